"""The tenant GraphQL surface on the real stack: queries answered by the tenant service for the
caller's active tenant, ``switchTenant`` moving the session (a token for A never reads B), and
bad input on every tenant operation giving a GraphQL error with a code."""

from __future__ import annotations

import uuid

import httpx
import pytest

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from tests.graphql_client import gql
from tests.support import Stack, stable_id
from tests.tenant.graphql.tenant_graphql import (
    MEMBERS,
    SWITCH,
    TENANT,
    code_of,
    login,
    new_user,
    seed_tenant,
)

REFRESH = """mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }"""
ME = "{ me { tenantId roles } }"


async def test_switching_moves_the_session_and_a_token_reads_only_its_tenant(
    stack: Stack, auth_runtime: AuthRuntime, tenant_resources: Resources
) -> None:
    alice, bob, stranger = [await new_user(auth_runtime) for _ in range(3)]
    a = await seed_tenant(auth_runtime, tenant_resources, [(alice, "owner"), (bob, "member")])
    b = await seed_tenant(auth_runtime, tenant_resources, [(bob, "owner"), (alice, "viewer")])
    c = await seed_tenant(auth_runtime, tenant_resources, [(stranger, "owner")])
    tokens = await login(stack.graphql, alice, a)
    token_a = tokens["accessToken"]

    listed = await gql(stack.graphql, "{ tenants { id myRole } }", token=token_a)
    own = await gql(stack.graphql, TENANT, {"id": str(a)}, token=token_a)
    page = await gql(stack.graphql, MEMBERS, {"id": str(a), "first": 1}, token=token_a)
    other_b = await gql(stack.graphql, TENANT, {"id": str(b)}, token=token_a)
    members_b = await gql(stack.graphql, MEMBERS, {"id": str(b), "first": 5}, token=token_a)

    assert {(t["id"], t["myRole"]) for t in listed["data"]["tenants"]} >= {
        (str(a), "owner"),
        (str(b), "viewer"),
    }
    assert own["data"]["tenant"]["myRole"] == "owner", own
    connection = page["data"]["members"]
    assert len(connection["edges"]) == 1 and connection["pageInfo"]["hasNextPage"] is True
    assert connection["pageInfo"]["endCursor"] == connection["edges"][0]["cursor"]
    rest = await gql(
        stack.graphql,
        MEMBERS,
        {"id": str(a), "first": 5, "after": connection["pageInfo"]["endCursor"]},
        token=token_a,
    )
    seen = {e["node"]["userId"] for e in connection["edges"] + rest["data"]["members"]["edges"]}
    assert seen == {str(alice.id), str(bob.id)}
    assert rest["data"]["members"]["pageInfo"] == {"hasNextPage": False, "endCursor": None} or (
        rest["data"]["members"]["pageInfo"]["hasNextPage"] is False
    )
    # A token for A gets nothing of B, though its holder is a member of B.
    assert other_b["data"] is None and code_of(other_b) == "FORBIDDEN", other_b
    assert members_b["data"] is None and code_of(members_b) in ("FORBIDDEN", "NOT_FOUND")

    switched = await gql(stack.graphql, SWITCH, {"id": str(b)}, token=token_a)
    assert not switched.get("errors"), switched
    token_b = switched["data"]["switchTenant"]["accessToken"]
    assert switched["data"]["switchTenant"]["tenantId"] == str(b)
    assert switched["data"]["switchTenant"]["roles"] == ["viewer"]
    assert "files.read" in switched["data"]["switchTenant"]["permissions"]
    in_b = await gql(stack.graphql, TENANT, {"id": str(b)}, token=token_b)
    a_with_b = await gql(stack.graphql, TENANT, {"id": str(a)}, token=token_b)
    refreshed = await gql(stack.graphql, REFRESH, {"t": tokens["refreshToken"]})
    me = await gql(stack.graphql, ME, token=refreshed["data"]["refreshSession"]["accessToken"])
    foreign = await gql(stack.graphql, SWITCH, {"id": str(c)}, token=token_b)
    unknown = await gql(stack.graphql, SWITCH, {"id": str(uuid.uuid4())}, token=token_b)

    assert in_b["data"]["tenant"]["myRole"] == "viewer"
    assert code_of(a_with_b) == "FORBIDDEN"
    assert me["data"]["me"] == {"tenantId": str(b), "roles": ["viewer"]}  # refresh kept B
    assert code_of(foreign) == code_of(unknown) == "FORBIDDEN"
    assert foreign["errors"][0]["message"] == unknown["errors"][0]["message"]


MEGA = "x" * 1_000_000
UNKNOWN = str(uuid.uuid4())
Q_ID, M_ID, M_STR = "query($v: ID!) ", "mutation($v: ID!) ", "mutation($v: String!) "
BAD = [
    (Q_ID + "{ tenant(id: $v) { id } }", MEGA),
    (Q_ID + "{ tenant(id: $v) { id } }", "not-a-uuid"),
    (Q_ID + "{ tenant(id: $v) { id } }", UNKNOWN),
    (Q_ID + "{ members(tenantId: $v, first: 10) { pageInfo { hasNextPage } } }", MEGA),
    (Q_ID + "{ invitations(tenantId: $v) { id } }", "\U0001f642"),
    ('query($v: String) { invitations(tenantId: "' + UNKNOWN + '", status: $v) { id } }', MEGA),
    (
        'query($v: String) { members(tenantId: "'
        + UNKNOWN
        + '", first: 2, after: $v) { edges { cursor } } }',
        MEGA,
    ),
    (M_ID + "{ switchTenant(tenantId: $v) { accessToken } }", MEGA),
    (M_ID + "{ switchTenant(tenantId: $v) { accessToken } }", UNKNOWN),
    (M_STR + "{ createTenant(input: {slug: $v, name: $v}) { id } }", MEGA),
    (M_STR + '{ createTenant(input: {slug: $v, name: "n"}) { id } }', "A"),
    (M_ID + '{ inviteMember(input: {tenantId: $v, email: "a@b.co"}) { id } }', MEGA),
    (M_STR + "{ acceptInvitation(token: $v) { id } }", MEGA),
    (M_STR + "{ acceptInvitation(token: $v) { id } }", "short"),
    (M_STR + "{ declineInvitation(token: $v) }", MEGA),
    (M_ID + "{ revokeInvitation(tenantId: $v, invitationId: $v) }", MEGA),
    (M_ID + '{ changeMemberRole(tenantId: $v, userId: $v, role: "admin") { id } }', MEGA),
    (M_ID + "{ removeMember(tenantId: $v, userId: $v) { id } }", UNKNOWN),
    (M_ID + "{ transferOwnership(tenantId: $v, newOwnerId: $v) { id } }", "1"),
    (M_STR + '{ upgradeTenant(tenantId: "' + UNKNOWN + '", plan: $v) { id } }', MEGA),
    (M_ID + "{ suspendTenant(tenantId: $v) { id } }", MEGA),
    (M_ID + "{ resumeTenant(tenantId: $v) { id } }", UNKNOWN),
    (M_ID + "{ deleteTenant(tenantId: $v) { id } }", "null"),
]


@pytest.mark.parametrize(("query", "value"), BAD, ids=lambda v: stable_id(v) or str(v)[:50])
async def test_bad_input_is_a_graphql_error_with_a_code(
    stack: Stack, auth_runtime: AuthRuntime, tenant_resources: Resources, query: str, value: str
) -> None:
    alice = await new_user(auth_runtime)
    a = await seed_tenant(auth_runtime, tenant_resources, [(alice, "owner")])
    token = (await login(stack.graphql, alice, a))["accessToken"]
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(
            stack.graphql,
            json={"query": query, "variables": {"v": value}},
            headers={"authorization": f"Bearer {token}"},
        )
    assert response.status_code in (200, 400, 413), response.text
    if response.status_code == 413:  # the gateway's own body limit
        return
    body = response.json()
    assert body.get("errors"), body
    code = code_of(body)
    assert code is not None and code != "INTERNAL_SERVER_ERROR", body
    message = body["errors"][0]["message"].lower()
    assert "unexpected" not in message and "internal" not in message, body


@pytest.mark.parametrize(
    "query",
    [
        "{ tenant(id: 12) { id } }",
        '{ members(tenantId: "x", first: "many") { pageInfo { hasNextPage } } }',
        'mutation { switchTenant(tenantId: ["a"]) { accessToken } }',
        "mutation { createTenant(input: {slug: 1}) { id } }",
        '{ members(tenantId: "00000000-0000-0000-0000-000000000000", first: 1000) { edges { cursor } } }',
    ],
)
async def test_wrong_types_are_graphql_errors(stack: Stack, query: str) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(stack.graphql, json={"query": query})
    assert response.status_code in (200, 400), response.text
    assert response.json().get("errors"), response.text


async def test_tenant_queries_need_a_token(stack: Stack) -> None:
    body = await gql(stack.graphql, "{ tenants { id } }")
    assert code_of(body) == "UNAUTHENTICATED"
