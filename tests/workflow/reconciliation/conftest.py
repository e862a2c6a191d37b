"""Fixtures of the ``data_migration`` tests: the auth, tenant, user and workflow workers on a
fresh task-queue prefix (``reconciliation_stack``), a provisioned tenant with members whose
copies the tests then put out of step on purpose."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest

from services.common.resources import Resources
from services.common.settings import ServiceName, Settings
from tests.workers import running_workers
from tests.workflow.reconciliation.members import Stack


@pytest.fixture(scope="session")
async def workflow_resources(
    resources_for: Callable[[ServiceName], Awaitable[Resources]],
) -> Resources:
    return await resources_for(ServiceName.workflow)


@pytest.fixture
def reconciliation_stack(
    settings: Settings,
    auth_resources: Resources,
    tenant_resources: Resources,
    user_resources: Resources,
    file_resources: Resources,
    workflow_resources: Resources,
) -> Callable[..., Any]:
    """``async with reconciliation_stack(replace={...}) as stack``: the workers the run needs
    (tenant provisioning, with its file step, included to make tenants) on their own prefix."""
    from services.auth.service import SPEC as AUTH
    from services.file.service import SPEC as FILE
    from services.tenant.service import SPEC as TENANT
    from services.user.service import SPEC as USER
    from services.workflow.service import SPEC as WORKFLOW

    @asynccontextmanager
    async def run(replace: Mapping[str, Callable[..., Any]] | None = None) -> AsyncIterator[Stack]:
        services = (
            (AUTH, auth_resources),
            (TENANT, tenant_resources),
            (FILE, file_resources),
            (USER, user_resources),
            (WORKFLOW, workflow_resources),
        )
        prefix = f"rc{uuid.uuid4().hex[:8]}"
        async with running_workers(settings, services, prefix, replace) as local:
            yield Stack(
                tenant=local.task_queue(ServiceName.tenant),
                workflow=local.task_queue(ServiceName.workflow),
                auth=auth_resources,
                tenants=tenant_resources,
                users=user_resources,
            )

    return run
