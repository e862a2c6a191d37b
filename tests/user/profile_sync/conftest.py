"""Fixtures of the profile sync tests: ``sync_stack``, the auth, tenant, file and user workers in
process on a fresh task-queue prefix (``tests/workers.py``) with the user and tenant apps whose
routes start runs on that prefix (helpers: ``tests/user/profile_sync/sync_flows.py``)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import Settings
from tests.tenant.http.tenant_api import RecordingMailer, TenantApi
from tests.user.profile_sync.sync_flows import SyncStack
from tests.user.user_api import UserApi
from tests.workers import running_workers


@pytest.fixture
def sync_stack(
    settings: Settings,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    file_resources: Resources,
    user_resources: Resources,
) -> Callable[..., Any]:
    """``async with sync_stack(replace={...}) as stack``; ``replace`` maps activity names to
    stand-ins registered under the same contract name on their service's queue."""
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
    ) -> AsyncIterator[SyncStack]:
        prefix = f"ps{uuid.uuid4().hex[:8]}"
        async with running_workers(settings, services, prefix, replace) as local:
            users = dataclasses.replace(user_resources, settings=local)
            tenants = dataclasses.replace(tenant_resources, settings=local)
            yield SyncStack(
                prefix=prefix,
                users=users,
                user_api=UserApi(USER.build_app(users), auth_runtime, users),
                tenant_api=TenantApi(
                    TENANT.build_app(tenants), auth_runtime, RecordingMailer(), tenants
                ),
            )

    return run
