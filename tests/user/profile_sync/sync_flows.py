"""Helpers of the profile sync tests: a member of two tenants seeded straight into the auth,
tenant and user tables, the profile changed through the user service's routes, and what each
copy holds read back through its owner (a token from the auth API, the tenant service's member
list, the user service's directory rows)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from temporalio.client import Client, WorkflowHandle

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from storage.auth.repository import CredentialRepository
from storage.db import transaction
from storage.users.directory import DirectoryRepository, name_text
from tests.auth.users import AuthUser
from tests.tenant.graphql.tenant_graphql import seed_tenant
from tests.tenant.http.tenant_api import TenantApi
from tests.user.graphql.user_graphql import Team, seed_team
from tests.user.user_api import UserApi
from workflows.accounts.profile_sync import (
    ProfileSyncState,
    UserProfileSyncWorkflow,
    user_profile_sync_workflow_id,
)


@dataclass(frozen=True)
class SyncStack:
    prefix: str
    #: The user service's resources on the stack's prefix (its routes start runs there).
    users: Resources
    user_api: UserApi
    tenant_api: TenantApi


@dataclass(frozen=True)
class TwoTenants:
    """Tenant A (``team``: owner Olga, member Max) and tenant B (owner ``other_owner``), where
    Max is a member too."""

    team: Team
    other_tenant: uuid.UUID
    other_owner: AuthUser

    @property
    def owner(self) -> AuthUser:
        return self.team.owner

    @property
    def member(self) -> AuthUser:
        return self.team.members[1][0]


async def member_of_two_tenants(
    auth: AuthRuntime, tenants: Resources, users: Resources
) -> TwoTenants:
    team = await seed_team(auth, tenants, users, [("Olga", "owner"), ("Max", "member")])
    other = (await seed_team(auth, tenants, users, [("Bea", "owner")])).owner
    member = team.members[1][0]
    tenant_b = await seed_tenant(auth, tenants, [(other, "owner"), (member, "member")])
    async with transaction(users.database, tenant_b) as db:
        await DirectoryRepository(db, tenant_b).upsert(
            member.id,
            role="member",
            status="active",
            joined_at=datetime.now(UTC),
            display_name="Max",
            email=member.email,
            search_name=name_text("Max", None, None),
        )
    return TwoTenants(team, tenant_b, other)


async def patch_profile(
    api: UserApi,
    actor: uuid.UUID,
    tenant_id: uuid.UUID | None,
    target: uuid.UUID | None,
    body: Any,
    role: str | None = None,
) -> httpx.Response:
    """``PATCH /users/me`` (``target`` None) or ``/users/{target}``, as ``actor``."""
    path = "/users/me" if target is None else f"/users/{target}"
    async with api.client(actor, tenant_id, role) as http:
        if isinstance(body, bytes):
            return await http.patch(
                path, content=body, headers={"content-type": "application/json"}
            )
        return await http.patch(path, json=body)


def sync_run(temporal: Client, user_id: uuid.UUID) -> WorkflowHandle[Any, Any]:
    return temporal.get_workflow_handle(user_profile_sync_workflow_id(str(user_id)))


async def converged(
    temporal: Client, user_id: uuid.UUID, version: int, *, copies: tuple[str, ...] | None = None
) -> ProfileSyncState:
    """Wait (up to 60 s) until ``copies`` (default: all) hold ``version`` or a later one."""
    handle = sync_run(temporal, user_id)
    state = None
    for _ in range(240):
        state = await handle.query(UserProfileSyncWorkflow.sync_state)
        names = copies or ("auth", "tenant", "directory", "file")
        if state.latest_version >= version and all(
            state.applied.get(n, 0) >= version for n in names
        ):
            return state
        await asyncio.sleep(0.25)
    raise AssertionError(f"the copies never reached version {version}: {state}")


async def token_name(auth_client: httpx.AsyncClient, user: AuthUser, tenant_id: uuid.UUID) -> Any:
    """The ``name`` claim of a fresh access token (a new login into ``tenant_id``)."""
    response = await auth_client.post(
        "/auth/login",
        json={"email": user.email, "password": user.password, "tenant_id": str(tenant_id)},
    )
    assert response.status_code == 200, response.text
    token = response.json()["tokens"]["access_token"]
    return jwt.decode(token, options={"verify_signature": False}).get("name")


async def listed_member(
    api: TenantApi, owner: AuthUser, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> dict[str, Any]:
    """The member's row in the tenant service's member list, as the tenant's owner sees it."""
    async with api.client(owner.id, tenant_id) as http:
        response = await http.get(f"/tenants/{tenant_id}/members", params={"first": 100})
    assert response.status_code == 200, response.text
    (row,) = [m for m in response.json()["items"] if m["user_id"] == str(user_id)]
    return row  # type: ignore[no-any-return]


async def directory_names(
    users: Resources, tenant_ids: list[uuid.UUID], user_id: uuid.UUID
) -> list[str]:
    names = []
    for tenant_id in tenant_ids:
        async with transaction(users.database, tenant_id) as db:
            entry = await DirectoryRepository(db, tenant_id).entry(user_id)
        assert entry is not None
        names.append(entry.display_name)
    return names


async def auth_copy(auth: Resources, user_id: uuid.UUID) -> tuple[str | None, int]:
    async with transaction(auth.database) as db:
        credential = await CredentialRepository(db).get(user_id)
    assert credential is not None
    return credential.display_name, credential.profile_version
