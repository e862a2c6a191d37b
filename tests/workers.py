"""Services' Temporal workers in this process on their own task-queue prefix: the one way tests
run real workers (``in_process_workers`` in tests/conftest.py, ``tenant_stack`` and
``user_stack``). A stand-in activity replaces the real one registered under the same contract
name on its service's queue (``@CONTRACT.implement``), to fail a step on purpose."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from temporalio import activity

from services.common.resources import Resources
from services.common.runner import ServiceSpec
from services.common.settings import Settings
from services.common.temporal import build_worker


def activity_name(fn: Callable[..., Any]) -> str:
    return activity._Definition.must_from_callable(fn).name


@asynccontextmanager
async def running_workers(
    settings: Settings,
    services: Sequence[tuple[ServiceSpec, Resources]],
    prefix: str,
    replace: Mapping[str, Callable[..., Any]] | None = None,
) -> AsyncIterator[Settings]:
    """Run each service's worker on ``<prefix>-<service>`` until the block ends; yields the
    settings with that prefix. ``replace`` maps activity names (``tenant.create_tenant``) to
    stand-ins, registered on the queue of the service the name starts with."""
    stand_ins = dict(replace or {})
    local = settings.model_copy(update={"task_queue_prefix": prefix})
    workers = []
    for spec, resources in services:
        activities = [a for a in spec.activities(resources) if activity_name(a) not in stand_ins]
        activities += [a for n, a in stand_ins.items() if n.split(".")[0] == spec.name.value]
        workers.append(
            build_worker(
                resources.temporal,
                local,
                task_queue=local.task_queue(spec.name),
                workflows=spec.workflows,
                activities=activities,
            )
        )
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        yield local
    finally:
        await asyncio.gather(*(w.shutdown() for w in workers))
        await asyncio.gather(*tasks, return_exceptions=True)
