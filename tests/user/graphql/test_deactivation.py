"""``deactivateUser`` through GraphQL on the real stack: the tenant's owner deactivates a member,
the answer is the ``user_deactivation`` run, which completes; the member then cannot sign in.
Slow (a whole saga across four services): the one such test. Refusals answer their codes."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from tests.graphql_client import gql
from tests.support import Stack
from tests.tenant.graphql.tenant_graphql import LOGIN, code_of
from tests.user.graphql.user_graphql import seed_team, token_of

pytestmark = pytest.mark.timeout(180)

DEACTIVATE = """mutation($id: ID!) {
  deactivateUser(userId: $id) { id type status accessToken }
}"""

RUN = """query($id: ID!, $t: String) { workflowRun(id: $id, accessToken: $t) { status error } }"""


async def test_a_deactivated_member_cannot_sign_in(
    stack: Stack, auth_runtime: AuthRuntime, tenant_resources: Resources, user_resources: Resources
) -> None:
    team = await seed_team(
        auth_runtime, tenant_resources, user_resources, [("Olga", "owner"), ("Max", "member")]
    )
    member = team.members[1][0]
    token = await token_of(stack.graphql, team.owner, team.tenant_id)
    member_token = await token_of(stack.graphql, member, team.tenant_id)

    oneself = await gql(stack.graphql, DEACTIVATE, {"id": str(team.owner.id)}, token=token)
    by_a_member = await gql(
        stack.graphql, DEACTIVATE, {"id": str(team.owner.id)}, token=member_token
    )
    unknown = await gql(stack.graphql, DEACTIVATE, {"id": str(uuid.uuid4())}, token=token)
    hostile = await gql(stack.graphql, DEACTIVATE, {"id": "x" * 100_000}, token=token)
    assert code_of(oneself) == "ACCOUNT_CHANGE_REFUSED", oneself
    assert code_of(by_a_member) == "FORBIDDEN", by_a_member
    assert code_of(unknown) == "NOT_FOUND", unknown
    assert code_of(hostile) == "BAD_USER_INPUT" and len(str(hostile)) < 2000

    started = await gql(stack.graphql, DEACTIVATE, {"id": str(member.id)}, token=token)
    assert not started.get("errors"), started
    run = started["data"]["deactivateUser"]
    assert run["type"] == "user_deactivation" and run["accessToken"], run
    status = run["status"]
    for _ in range(240):
        if status not in ("RUNNING", "PENDING"):
            break
        await asyncio.sleep(0.5)
        state = await gql(stack.graphql, RUN, {"id": run["id"], "t": run["accessToken"]})
        assert not state.get("errors"), state
        status = state["data"]["workflowRun"]["status"]
    assert status == "COMPLETED", state

    login = await gql(
        stack.graphql,
        LOGIN,
        {"input": {"email": member.email, "password": member.password, "tenantId": None}},
    )
    assert login["data"] is None and code_of(login) in ("UNAUTHENTICATED", "BAD_USER_INPUT"), login
