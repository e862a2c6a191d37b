"""N+1: a nested list query costs a constant number of backend calls, whatever the length of
its lists (``tenants → members → user``: one tenants read, one members page per tenant, one
batched profile read for the whole answer)."""

from __future__ import annotations

import uuid

import pytest

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import ServiceName
from storage.db import transaction
from storage.users.models import Profile
from tests.auth.users import AuthUser
from tests.gateway.efficiency.counting import counting_calls, stack_gateway
from tests.support import Stack
from tests.tenant.graphql.tenant_graphql import login, new_user, seed_tenant

NESTED = """{
  tenants {
    id
    members(first: 20) {
      edges { node { userId role user { id displayName } } }
      pageInfo { hasNextPage }
    }
  }
}"""
TWICE = """query($id: ID!) {
  a: members(tenantId: $id, first: 20) { edges { node { user { id } } } }
  b: members(tenantId: $id, first: 20) { edges { node { user { email } } } }
}"""


async def _tenant_with(
    auth: AuthRuntime, tenants: Resources, users: Resources, size: int
) -> tuple[AuthUser, uuid.UUID]:
    """A tenant of ``size`` members, each with a profile in the user service."""
    owner = await new_user(auth)
    others = [(await new_user(auth), "member") for _ in range(size - 1)]
    async with transaction(users.database) as db:
        for user in [owner, *(u for u, _ in others)]:
            db.add(
                Profile(
                    id=user.id,
                    email=user.email,
                    display_name=f"Member {user.id.hex[:6]}",
                    idempotency_key=f"test:{user.id}",
                )
            )
    return owner, await seed_tenant(auth, tenants, [(owner, "owner"), *others])


async def test_nested_lists_cost_the_same_calls_for_two_members_or_eight(
    stack: Stack,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
    gateway_resources: Resources,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counts = {}
    async with stack_gateway(gateway_resources, stack) as client:
        with counting_calls(monkeypatch, stack) as calls:
            for size in (2, 8):
                owner, tenant = await _tenant_with(
                    auth_runtime, tenant_resources, user_resources, size
                )
                token = (await login(stack.graphql, owner, tenant))["accessToken"]
                headers = {"authorization": f"Bearer {token}"}
                await client.post("/graphql", json={"query": "{ me { userId } }"}, headers=headers)
                calls.reset()  # the JWKS fetched once by the warm-up above is not counted
                response = await client.post(
                    "/graphql", json={"query": NESTED}, headers={"authorization": f"Bearer {token}"}
                )
                body = response.json()
                assert not body.get("errors"), body
                [listed] = [t for t in body["data"]["tenants"] if t["id"] == str(tenant)]
                edges = listed["members"]["edges"]
                assert len(edges) == size
                # The caller's own profile is visible; the others' are null (may_read_profile).
                mine = [e["node"]["user"] for e in edges if e["node"]["userId"] == str(owner.id)]
                assert mine[0]["id"] == str(owner.id)
                counts[size] = calls.by_service()

    assert counts[2] == counts[8], counts
    assert counts[8][ServiceName.user.value] == 1, counts  # one batched GET /users?ids=
    # GET /tenants and one members page (the caller is in one tenant); the token is verified
    # against cached JWKS, so auth is not called per field.
    assert counts[8][ServiceName.tenant.value] == 2, counts


async def test_one_page_and_one_profile_read_however_often_a_query_asks(
    stack: Stack,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
    gateway_resources: Resources,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner, tenant = await _tenant_with(auth_runtime, tenant_resources, user_resources, 3)
    token = (await login(stack.graphql, owner, tenant))["accessToken"]
    async with stack_gateway(gateway_resources, stack) as client:
        with counting_calls(monkeypatch, stack) as calls:
            response = await client.post(
                "/graphql",
                json={"query": TWICE, "variables": {"id": str(tenant)}},
                headers={"authorization": f"Bearer {token}"},
            )
    body = response.json()
    assert not body.get("errors"), body
    assert len(body["data"]["a"]["edges"]) == len(body["data"]["b"]["edges"]) == 3
    assert calls.seen.count((ServiceName.tenant, f"GET /tenants/{tenant}/members")) == 1
    assert calls.of(ServiceName.user) == 1, calls.seen
