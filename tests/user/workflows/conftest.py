"""Fixtures of the user workflow tests: ``user_stack``, the auth, tenant, file and user workers in
process on a fresh task-queue prefix (``tests/workers.py``, as ``tenant_stack``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest

from services.common.resources import Resources
from services.common.settings import ServiceName, Settings
from tests.tenant.workflows.stack import TenantStack
from tests.workers import running_workers


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

    services = (
        (AUTH, auth_resources),
        (TENANT, tenant_resources),
        (FILE, file_resources),
        (USER, user_resources),
    )

    @asynccontextmanager
    async def run(
        replace: Mapping[str, Callable[..., Any]] | None = None,
    ) -> AsyncIterator[TenantStack]:
        prefix = f"uw{uuid.uuid4().hex[:8]}"
        async with running_workers(settings, services, prefix, replace) as local:
            yield TenantStack(prefix=prefix, queue=local.task_queue(ServiceName.tenant))

    return run
