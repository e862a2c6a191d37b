"""``me { checklist }`` through GraphQL on the real stack: null before a first-run set-up in the
active tenant, the stored checklist after it (profile items as the profile is now), and null
again from another tenant's token."""

from __future__ import annotations

from typing import Any

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from storage.db import transaction
from storage.users.first_runs import FirstRunRepository
from tests.graphql_client import gql
from tests.support import Stack
from tests.user.graphql.user_graphql import seed_team, token_of

CHECKLIST = "{ me { checklist { tenantId complete welcomeSentAt items { item done } } } }"


def _ok(body: dict[str, Any]) -> dict[str, Any]:
    assert not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]


async def test_me_checklist(
    stack: Stack, auth_runtime: AuthRuntime, tenant_resources: Resources, user_resources: Resources
) -> None:
    team = await seed_team(auth_runtime, tenant_resources, user_resources, [("Ada", "owner")])
    other = await seed_team(auth_runtime, tenant_resources, user_resources, [("Bob", "owner")])
    token = await token_of(stack.graphql, team.owner, team.tenant_id)
    before = _ok(await gql(stack.graphql, CHECKLIST, token=token))["me"]["checklist"]
    async with transaction(user_resources.database, team.tenant_id) as db:
        await FirstRunRepository(db, team.tenant_id).create(
            team.owner.id,
            checklist=[{"item": "set_password", "done": True}],
            created={},
            idempotency_key="test",
        )
    after = _ok(await gql(stack.graphql, CHECKLIST, token=token))["me"]["checklist"]
    elsewhere = await token_of(stack.graphql, other.owner, other.tenant_id)
    theirs = _ok(await gql(stack.graphql, CHECKLIST, token=elsewhere))["me"]["checklist"]

    assert before is None and theirs is None
    assert after["tenantId"] == str(team.tenant_id) and after["complete"] is False
    assert after["items"][0] == {"item": "set_password", "done": True}
    assert [i["item"] for i in after["items"]] == [
        "set_password",
        "name",
        "locale",
        "time_zone",
        "avatar",
    ]
