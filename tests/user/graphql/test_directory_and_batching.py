"""``users`` (the tenant directory as a Relay connection) and ``user(id)`` on the real stack: a
search with pagination in the active tenant, another tenant's directory refused (a member of A
asking for B gets nothing), and ``tenant { members { user } }`` for many members costing one
user-service call (the call counting of ``tests/gateway/efficiency``)."""

from __future__ import annotations

from typing import Any

import pytest

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import ServiceName
from tests.gateway.efficiency.counting import counting_calls, stack_gateway
from tests.graphql_client import gql
from tests.support import Stack
from tests.tenant.graphql.tenant_graphql import code_of
from tests.user.graphql.user_graphql import USER, USERS, seed_team, token_of

NAMES = [
    ("Zelda Owner", "owner"),
    ("Marta Keller", "admin"),
    ("Martin Kohler", "member"),
    ("Martina Klein", "member"),
    ("Otto Brand", "member"),
]


def _page(body: dict[str, Any]) -> dict[str, Any]:
    assert not body.get("errors"), body
    return body["data"]["users"]  # type: ignore[no-any-return]


async def test_users_searches_the_active_tenant_page_by_page(
    stack: Stack, auth_runtime: AuthRuntime, tenant_resources: Resources, user_resources: Resources
) -> None:
    team = await seed_team(auth_runtime, tenant_resources, user_resources, NAMES)
    token = await token_of(stack.graphql, team.owner, team.tenant_id)
    tenant = str(team.tenant_id)

    everyone = _page(
        await gql(stack.graphql, USERS, {"tenantId": tenant, "first": 100}, token=token)
    )
    assert len(everyone["edges"]) == len(NAMES)
    assert everyone["pageInfo"] == {"hasNextPage": False, "endCursor": None}

    seen: list[str] = []
    after = None
    for _ in range(5):
        page = _page(
            await gql(
                stack.graphql,
                USERS,
                {"tenantId": tenant, "search": "mart", "first": 2, "after": after},
                token=token,
            )
        )
        seen += [e["node"]["displayName"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert len(page["edges"]) == 2
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert sorted(seen) == ["Marta Keller", "Martin Kohler", "Martina Klein"]

    typo = _page(
        await gql(
            stack.graphql, USERS, {"tenantId": tenant, "search": "Kohlr", "first": 5}, token=token
        )
    )
    assert "Martin Kohler" in [e["node"]["displayName"] for e in typo["edges"]]

    bad_cursor = await gql(
        stack.graphql,
        USERS,
        {"tenantId": tenant, "search": "otto", "first": 2, "after": after or "x"},
        token=token,
    )
    too_many = await gql(stack.graphql, USERS, {"tenantId": tenant, "first": 101}, token=token)
    mega = await gql(
        stack.graphql,
        USERS,
        {"tenantId": tenant, "search": "x" * 1_000_000, "first": 5},
        token=token,
    )
    assert code_of(bad_cursor) == "BAD_USER_INPUT", bad_cursor
    assert code_of(too_many) == code_of(mega) == "BAD_USER_INPUT"
    assert len(str(mega)) < 2000

    # user(id): with users.read (every built-in role holds it) a member of the active tenant
    # is shown whole; with a token for no tenant, only oneself (null, as for an unknown id).
    member = team.members[2][0]
    read = await gql(stack.graphql, USER, {"id": str(member.id)}, token=token)
    assert read["data"]["user"]["displayName"] == "Martin Kohler", read
    no_tenant = await token_of(stack.graphql, member, None)
    hidden = await gql(stack.graphql, USER, {"id": str(team.owner.id)}, token=no_tenant)
    assert hidden == {"data": {"user": None}}, hidden


async def test_a_member_of_a_asking_for_b_gets_nothing(
    stack: Stack, auth_runtime: AuthRuntime, tenant_resources: Resources, user_resources: Resources
) -> None:
    a = await seed_team(auth_runtime, tenant_resources, user_resources, [("Anna A", "owner")])
    b = await seed_team(auth_runtime, tenant_resources, user_resources, [("Bert B", "owner")])
    token_a = await token_of(stack.graphql, a.owner, a.tenant_id)
    no_tenant = await token_of(stack.graphql, a.owner, None)

    other = await gql(
        stack.graphql, USERS, {"tenantId": str(b.tenant_id), "first": 5}, token=token_a
    )
    bert = await gql(stack.graphql, USER, {"id": str(b.owner.id)}, token=token_a)
    without = await gql(
        stack.graphql, USERS, {"tenantId": str(a.tenant_id), "first": 5}, token=no_tenant
    )

    assert other["data"] is None and code_of(other) == "FORBIDDEN", other
    assert "Bert" not in str(other)
    assert bert == {"data": {"user": None}}, bert
    assert without["data"] is None and code_of(without) == "FORBIDDEN", without


MEMBERS_USERS = """query($id: ID!) {
  tenant(id: $id) {
    members(first: 100) { edges { node { userId user { displayName } } } }
  }
}"""


@pytest.mark.parametrize("size", [30])
async def test_many_members_profiles_cost_one_user_service_call(
    stack: Stack,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
    gateway_resources: Resources,
    monkeypatch: pytest.MonkeyPatch,
    size: int,
) -> None:
    names = [("Owner", "owner")] + [(f"Member {i:02d}", "member") for i in range(size - 1)]
    team = await seed_team(auth_runtime, tenant_resources, user_resources, names)
    token = await token_of(stack.graphql, team.owner, team.tenant_id)
    headers = {"authorization": f"Bearer {token}"}
    async with stack_gateway(gateway_resources, stack) as client:
        await client.post("/graphql", json={"query": "{ me { userId } }"}, headers=headers)
        with counting_calls(monkeypatch, stack) as calls:
            response = await client.post(
                "/graphql",
                json={"query": MEMBERS_USERS, "variables": {"id": str(team.tenant_id)}},
                headers=headers,
            )
    body = response.json()
    assert not body.get("errors"), body
    edges = body["data"]["tenant"]["members"]["edges"]
    assert len(edges) == size
    # The owner holds users.read: every member's profile is visible, from one batched read.
    assert sorted(e["node"]["user"]["displayName"] for e in edges) == sorted(n for n, _ in names)
    assert calls.of(ServiceName.user) == 1, calls.seen
    assert calls.seen.count((ServiceName.user, "GET /users")) == 1, calls.seen
