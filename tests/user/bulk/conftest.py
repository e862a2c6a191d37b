"""Fixtures of the bulk operation tests: ``bulk_stack``, the auth, tenant, file and user workers in
process on a fresh task-queue prefix (``tests/workers.py``), and on ``<prefix>-workflow`` either
the workflow service's worker (the import's real ``user_onboarding``) or test-only workflows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from services.common.resources import Resources
from services.common.settings import ServiceName, Settings
from services.common.temporal import build_worker
from tests.tenant.workflows.stack import TenantStack
from tests.workers import running_workers


@pytest.fixture
async def bulk_workflow_resources(
    resources_for: Callable[[ServiceName], Awaitable[Resources]],
) -> Resources:
    return await resources_for(ServiceName.workflow)


@pytest.fixture
def bulk_stack(
    settings: Settings,
    auth_resources: Resources,
    tenant_resources: Resources,
    file_resources: Resources,
    user_resources: Resources,
    bulk_workflow_resources: Resources,
) -> Callable[..., Any]:
    """``async with bulk_stack(on_workflow_queue=[...], workflow_service=False) as stack``:
    ``workflow_service`` runs the workflow service's worker too (the real ``user_onboarding``);
    ``on_workflow_queue`` runs test-only workflows on that queue instead."""
    from services.auth.service import SPEC as AUTH
    from services.file.service import SPEC as FILE
    from services.tenant.service import SPEC as TENANT
    from services.user.service import SPEC as USER
    from services.workflow.service import SPEC as WORKFLOW

    services = (
        (AUTH, auth_resources),
        (TENANT, tenant_resources),
        (FILE, file_resources),
        (USER, user_resources),
    )

    @asynccontextmanager
    async def run(
        on_workflow_queue: Sequence[type] = (),
        replace: Mapping[str, Callable[..., Any]] | None = None,
        *,
        workflow_service: bool = False,
    ) -> AsyncIterator[TenantStack]:
        prefix = f"ub{uuid.uuid4().hex[:8]}"
        chosen = (*services, (WORKFLOW, bulk_workflow_resources)) if workflow_service else services
        async with running_workers(settings, chosen, prefix, replace) as local:
            extra = None
            if on_workflow_queue:
                extra = build_worker(
                    user_resources.temporal,
                    local,
                    task_queue=local.task_queue(ServiceName.workflow),
                    workflows=on_workflow_queue,
                )
            task = asyncio.create_task(extra.run()) if extra else None
            try:
                yield TenantStack(prefix=prefix, queue=local.task_queue(ServiceName.tenant))
            finally:
                if extra is not None and task is not None:
                    await extra.shutdown()
                    await asyncio.gather(task, return_exceptions=True)

    return run
