"""Fixtures of the user workflow tests: ``user_stack``, the auth, tenant, file and user workers in
process on a fresh task-queue prefix (as ``tenant_stack`` in tests/tenant/conftest.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest
from temporalio import activity

from services.common.resources import Resources
from services.common.settings import ServiceName, Settings
from services.common.temporal import build_worker
from tests.tenant.workflows.stack import TenantStack


def _activity_name(fn: Callable[..., Any]) -> str:
    return activity._Definition.must_from_callable(fn).name


@pytest.fixture
def user_stack(
    settings: Settings,
    auth_resources: Resources,
    tenant_resources: Resources,
    file_resources: Resources,
    user_resources: Resources,
) -> Callable[..., Any]:
    """``async with user_stack(replace={...}) as stack``: ``stack.queue`` is ``<prefix>-tenant``
    (for provisioning), ``stack.prefix`` gives ``<prefix>-user``; ``replace`` maps activity names
    to stand-ins registered under the same contract name on their service's queue."""
    from services.auth.service import SPEC as AUTH
    from services.file.service import SPEC as FILE
    from services.tenant.service import SPEC as TENANT
    from services.user.service import SPEC as USER

    @asynccontextmanager
    async def run(
        replace: Mapping[str, Callable[..., Any]] | None = None,
    ) -> AsyncIterator[TenantStack]:
        stand_ins = dict(replace or {})
        prefix = f"uw{uuid.uuid4().hex[:8]}"
        local = settings.model_copy(update={"task_queue_prefix": prefix})
        workers = []
        for spec, resources in (
            (AUTH, auth_resources),
            (TENANT, tenant_resources),
            (FILE, file_resources),
            (USER, user_resources),
        ):
            service = spec.name.value
            activities = [
                a for a in spec.activities(resources) if _activity_name(a) not in stand_ins
            ]
            activities += [a for n, a in stand_ins.items() if n.split(".")[0] == service]
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
            yield TenantStack(prefix=prefix, queue=local.task_queue(ServiceName.tenant))
        finally:
            await asyncio.gather(*(w.shutdown() for w in workers))
            await asyncio.gather(*tasks, return_exceptions=True)

    return run
