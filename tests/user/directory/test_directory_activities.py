"""The directory copy's activities: idempotent upserts, removals, status and erasure, run only by
the tenant flows (or the platform)."""

from __future__ import annotations

import uuid

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.common.security_context import SecurityContext, acting_as
from services.user.directory.activities import DirectoryActivities
from storage.db import transaction
from storage.users.directory import DirectoryRepository
from tests.user.user_api import UserApi
from workflows.user.directory_contracts import (
    DirectoryEntry,
    EraseTenantDirectoryInput,
    SetDirectoryStatusInput,
    SyncDirectoryInput,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _entries(api: UserApi, tenant_id: uuid.UUID) -> dict[uuid.UUID, tuple[str, str, str]]:
    async with transaction(api.resources.database, tenant_id) as db:
        rows = await DirectoryRepository(db, tenant_id).list(limit=100)
    return {r.user_id: (r.role, r.status, r.display_name) for r in rows}


async def test_sync_status_erase(user_api: UserApi) -> None:
    activities = DirectoryActivities(user_api.resources)
    env = ActivityEnvironment()
    tenant_id = uuid.uuid4()
    alice = await user_api.profile("Alice Copy")
    bob = uuid.uuid4()  # no profile (yet): an entry without names
    sync = SyncDirectoryInput(
        str(tenant_id),
        [DirectoryEntry(str(alice), "owner"), DirectoryEntry(str(bob), "member")],
        "k",
    )
    with acting_as(SecurityContext.system("test")):
        for _ in range(2):  # a retried step writes the same rows
            out = await env.run(activities.sync_directory, sync)
            assert out.upserted == 2
        assert await _entries(user_api, tenant_id) == {
            alice: ("owner", "active", "Alice Copy"),
            bob: ("member", "active", ""),
        }
        await env.run(
            activities.sync_directory,
            SyncDirectoryInput(
                str(tenant_id),
                [DirectoryEntry(str(bob), None), DirectoryEntry(str(alice), "admin")],
                "k2",
            ),
        )
        assert await _entries(user_api, tenant_id) == {alice: ("admin", "active", "Alice Copy")}
        changed = await env.run(
            activities.set_directory_status,
            SetDirectoryStatusInput(str(tenant_id), "suspended", "k3"),
        )
        assert changed.changed == 1
        assert (await _entries(user_api, tenant_id))[alice][1] == "suspended"
        erased = await env.run(
            activities.erase_tenant_directory, EraseTenantDirectoryInput(str(tenant_id), "k4")
        )
        assert erased.removed == 1 and await _entries(user_api, tenant_id) == {}
        with pytest.raises(ApplicationError):
            await env.run(
                activities.set_directory_status,
                SetDirectoryStatusInput(str(tenant_id), "deleted", "k5"),
            )
        with pytest.raises(ApplicationError):
            await env.run(
                activities.sync_directory,
                SyncDirectoryInput("not-a-uuid", [], "k6"),
            )


async def test_only_the_tenant_flows_may_run_them(user_api: UserApi) -> None:
    activities = DirectoryActivities(user_api.resources)
    env = ActivityEnvironment()
    env.info = env.info.__class__(**{**env.info.__dict__, "workflow_type": "user_registration"})
    tenant_id, user_id = uuid.uuid4(), uuid.uuid4()
    with acting_as(SecurityContext.for_user(str(user_id), tenant_id=str(tenant_id))):
        with pytest.raises(ApplicationError) as refused:
            await env.run(
                activities.sync_directory,
                SyncDirectoryInput(str(tenant_id), [DirectoryEntry(str(user_id), "owner")], "x"),
            )
    assert refused.value.type == "SecurityContextDenied"
    assert await _entries(user_api, tenant_id) == {}
