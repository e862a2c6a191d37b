"""``POST /auth/switch-tenant``: the session moves into another of the caller's tenants at once,
its tokens carry that tenant's roles and permissions (``perms``), a refresh keeps it, and a
tenant the caller holds no claims in (not a member, no such tenant, suspended) is refused with
one answer."""

from __future__ import annotations

import uuid

import httpx
import jwt
import pytest
from temporalio.testing import ActivityEnvironment

from services.auth.principal.activities import PrincipalActivities
from services.auth.runtime import AuthRuntime
from services.common.security_context import SecurityContext, acting_as
from services.common.tokens import Principal
from storage.auth.claims import ClaimsRepository
from storage.db import transaction
from tests.auth.users import AuthUser, create_user, login
from workflows.auth.principal_contracts import SyncPrincipalClaimsInput

PERMS_A = ["files.read", "tenant.manage"]


def bearer(token: object) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def claims_of(token: object) -> dict[str, object]:
    return jwt.decode(str(token), options={"verify_signature": False})  # type: ignore[no-any-return]


async def member_of_two(runtime: AuthRuntime) -> tuple[AuthUser, uuid.UUID, uuid.UUID]:
    a, b = uuid.uuid4(), uuid.uuid4()
    user = await create_user(runtime)
    async with transaction(runtime.resources.database) as db:
        await ClaimsRepository(db).put(user.id, a, ["owner"], PERMS_A)
        await ClaimsRepository(db).put(user.id, b, ["viewer"], ["files.read"])
    return user, a, b


async def switch(client: httpx.AsyncClient, token: object, tenant: object) -> httpx.Response:
    return await client.post(
        "/auth/switch-tenant", json={"tenant_id": str(tenant)}, headers=bearer(token)
    )


async def test_switch_gives_the_tenants_claims_and_a_refresh_keeps_it(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    user, a, b = await member_of_two(auth_runtime)
    tokens = await login(auth_client, user, tenant_id=str(a))

    switched = await switch(auth_client, tokens["access_token"], b)
    refreshed = await auth_client.post(
        "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    back = await switch(auth_client, switched.json()["access_token"], a)

    assert switched.status_code == 200, switched.text
    body = switched.json()
    assert body["tenant_id"] == str(b) and body["roles"] == ["viewer"]
    assert body["permissions"] == ["files.read"] and body["session_id"] == tokens["session_id"]
    assert body["workflow_id"].startswith(f"tenant-switching-{tokens['session_id']}-")
    new = claims_of(body["access_token"])
    assert new["tid"] == str(b) and new["roles"] == ["viewer"] and new["perms"] == ["files.read"]
    assert new["sid"] == tokens["session_id"]
    # The refresh token from before the switch yields tokens for the session's tenant now.
    assert refreshed.status_code == 200, refreshed.text
    assert claims_of(refreshed.json()["access_token"])["tid"] == str(b)
    assert back.status_code == 200 and claims_of(back.json()["access_token"])["perms"] == PERMS_A


async def test_login_tokens_carry_perms_and_old_tokens_read_as_none(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    user, a, _ = await member_of_two(auth_runtime)
    tokens = await login(auth_client, user, tenant_id=str(a))
    legacy = Principal.from_claims({"sub": str(user.id), "sid": "s", "roles": ["owner"]})

    assert claims_of(tokens["access_token"])["perms"] == PERMS_A
    assert legacy.permissions == ()


async def test_not_a_member_and_no_such_tenant_get_one_answer(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    user, a, _ = await member_of_two(auth_runtime)
    other = await create_user(auth_runtime, tenant_roles={(c := uuid.uuid4()): ["owner"]})
    tokens = await login(auth_client, user, tenant_id=str(a))

    foreign = await switch(auth_client, tokens["access_token"], c)
    missing = await switch(auth_client, tokens["access_token"], uuid.uuid4())
    me = await auth_client.get("/auth/me", headers=bearer(tokens["access_token"]))

    assert foreign.status_code == missing.status_code == 403
    assert foreign.json()["detail"] == missing.json()["detail"]
    assert me.json()["tenant_id"] == str(a)  # nothing changed
    assert other.id != user.id


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"tenant_id": "not-a-uuid"},
        {"tenant_id": 12},
        {"tenant_id": "x" * 1_000_000},
        {"tenant_id": None},
        [],
    ],
)
async def test_bad_input_is_a_4xx(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime, body: object
) -> None:
    user, a, _ = await member_of_two(auth_runtime)
    tokens = await login(auth_client, user, tenant_id=str(a))
    response = await auth_client.post(
        "/auth/switch-tenant", json=body, headers=bearer(tokens["access_token"])
    )
    assert 400 <= response.status_code < 500, response.text


async def test_without_a_token_it_is_401(auth_client: httpx.AsyncClient) -> None:
    response = await auth_client.post("/auth/switch-tenant", json={"tenant_id": str(uuid.uuid4())})
    assert response.status_code == 401


@acting_as(SecurityContext.system("test"))
async def test_a_suspended_or_removed_membership_is_refused_and_its_token_stops(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    user, a, b = await member_of_two(auth_runtime)
    tokens = await login(auth_client, user, tenant_id=str(a))
    in_b = await switch(auth_client, tokens["access_token"], b)
    # Suspension (or removal) removes the claims and ends the sessions in the tenant.
    await ActivityEnvironment().run(
        PrincipalActivities(auth_runtime).sync_principal_claims,
        SyncPrincipalClaimsInput(str(user.id), str(b), [], revoke_tenant_sessions=True),
    )

    me = await auth_client.get("/auth/me", headers=bearer(in_b.json()["access_token"]))
    other = await login(auth_client, user, tenant_id=str(a))
    refused = await switch(auth_client, other["access_token"], b)

    assert in_b.status_code == 200
    assert me.status_code == 401  # the session in b was revoked with the claims
    assert refused.status_code == 403


@acting_as(SecurityContext.system("test"))
async def test_synced_permissions_reach_the_token(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    tenant = uuid.uuid4()
    await ActivityEnvironment().run(
        PrincipalActivities(auth_runtime).sync_principal_claims,
        SyncPrincipalClaimsInput(
            str(user.id), str(tenant), ["member"], permissions=["users.read", "files.read"]
        ),
    )
    tokens = await login(auth_client, user, tenant_id=str(tenant))
    assert claims_of(tokens["access_token"])["perms"] == ["files.read", "users.read"]
