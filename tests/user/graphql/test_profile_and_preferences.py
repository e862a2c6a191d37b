"""``me``'s profile and preferences through GraphQL on the real stack: edited with
``updateProfile`` and ``updatePreferences`` and read back through ``me``; bad values (a bad time
zone, an unknown preference key, a megabyte string, a wrong type) answer a GraphQL error with a
code and a message naming the field, never an internal error; ``user(id)``."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from tests.graphql_client import gql
from tests.support import Stack
from tests.tenant.graphql.tenant_graphql import code_of
from tests.user.graphql.user_graphql import (
    ME,
    UPDATE_PREFERENCES,
    UPDATE_PROFILE,
    USER,
    seed_team,
    token_of,
)

MEGA = "x" * 1_000_000


def _ok(body: dict[str, Any]) -> dict[str, Any]:
    assert not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]


async def test_edit_profile_and_preferences_and_read_them_back_through_me(
    stack: Stack, auth_runtime: AuthRuntime, tenant_resources: Resources, user_resources: Resources
) -> None:
    team = await seed_team(auth_runtime, tenant_resources, user_resources, [("Ada", "owner")])
    token = await token_of(stack.graphql, team.owner, team.tenant_id)

    before = _ok(await gql(stack.graphql, ME, token=token))["me"]
    assert before["userId"] == str(team.owner.id) and before["roles"] == ["owner"]
    assert before["profile"]["displayName"] == "Ada" and before["profile"]["timeZone"] is None
    assert before["preferences"]["stored"] == {}
    assert before["preferences"]["values"]["theme"] == "system"

    changes = {
        "displayName": "  Ada   Lovelace ",
        "givenName": "Ada",
        "timeZone": "Europe/London",
        "locale": "en-gb",
        "phone": "+41 44 668 18 00",
    }
    updated = _ok(await gql(stack.graphql, UPDATE_PROFILE, {"input": changes}, token=token))
    assert updated["updateProfile"]["displayName"] == "Ada Lovelace"
    assert updated["updateProfile"]["locale"] == "en-GB"
    assert updated["updateProfile"]["phone"] == "+41446681800"
    document = {"theme": "dark", "accessibility": {"reduce_motion": True}}
    prefs = _ok(await gql(stack.graphql, UPDATE_PREFERENCES, {"input": document}, token=token))
    assert prefs["updatePreferences"]["stored"] == document
    tenant_doc = {"default_view": "grid", "pinned": ["/reports"]}
    in_tenant = _ok(
        await gql(
            stack.graphql,
            UPDATE_PREFERENCES,
            {"input": tenant_doc, "tenantId": str(team.tenant_id)},
            token=token,
        )
    )
    assert in_tenant["updatePreferences"]["scope"] == "tenant"
    assert in_tenant["updatePreferences"]["tenantId"] == str(team.tenant_id)

    after = _ok(await gql(stack.graphql, ME, token=token))["me"]
    assert after["profile"]["displayName"] == "Ada Lovelace"
    assert after["profile"]["givenName"] == "Ada"
    assert after["profile"]["timeZone"] == "Europe/London"
    assert after["preferences"]["stored"] == document
    assert after["preferences"]["values"]["theme"] == "dark"
    assert after["preferences"]["values"]["date_format"] == "locale"  # a default
    scoped = _ok(
        await gql(
            stack.graphql,
            "query($t: ID) { me { preferences(tenantId: $t) { scope stored values } } }",
            {"t": str(team.tenant_id)},
            token=token,
        )
    )
    assert scoped["me"]["preferences"]["stored"] == tenant_doc
    # null clears an optional field; displayName cannot be cleared
    cleared = _ok(
        await gql(stack.graphql, UPDATE_PROFILE, {"input": {"timeZone": None}}, token=token)
    )
    assert cleared["updateProfile"]["timeZone"] is None
    assert cleared["updateProfile"]["givenName"] == "Ada"
    own = _ok(await gql(stack.graphql, USER, {"id": str(team.owner.id)}, token=token))
    assert own["user"]["displayName"] == "Ada Lovelace" and own["user"]["status"] == "active"


PROFILE_BAD = [
    pytest.param({"timeZone": "Mars/Olympus"}, "time_zone", id="time-zone"),
    pytest.param({"locale": "xx-YY"}, "locale", id="locale"),
    pytest.param({"phone": "+999 1234567"}, "phone", id="phone"),
    pytest.param({"displayName": None}, "display_name", id="display-name-cleared"),
    pytest.param({"displayName": "bell\x07"}, "display_name", id="control-character"),
    pytest.param({"title": MEGA}, "title", id="megabyte"),
    pytest.param({"givenName": "x" * 101}, "given_name", id="too-long"),
    pytest.param({"avatarFileId": "not-a-uuid"}, "avatar_file_id", id="avatar"),
]


@pytest.mark.parametrize(("changes", "field"), PROFILE_BAD)
async def test_a_bad_profile_value_is_bad_user_input_naming_the_field(
    stack: Stack,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
    changes: dict[str, Any],
    field: str,
) -> None:
    team = await seed_team(auth_runtime, tenant_resources, user_resources, [("Bea", "owner")])
    token = await token_of(stack.graphql, team.owner, None)
    body = await gql(stack.graphql, UPDATE_PROFILE, {"input": changes}, token=token)
    assert body["data"] is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert field in error["message"] or field.replace("_", "") in error["message"].lower(), error
    assert len(error["message"]) < 600 and "xxxxxxxxxx" not in error["message"]
    me = _ok(await gql(stack.graphql, "{ me { profile { displayName title } } }", token=token))
    assert me["me"]["profile"] == {"displayName": "Bea", "title": None}  # nothing changed


PREFERENCES_BAD = [
    pytest.param({"theme": "neon"}, "theme", "INVALID_PREFERENCES", id="bad-value"),
    pytest.param({"sms": True}, "unknown key 'sms'", "INVALID_PREFERENCES", id="unknown-key"),
    pytest.param(
        {"notifications": {"sms": True}}, "notifications.sms", "INVALID_PREFERENCES", id="nested"
    ),
    pytest.param(
        {"accessibility": {"reduce_motion": "yes"}},
        "accessibility.reduce_motion must be of type boolean",
        "INVALID_PREFERENCES",
        id="wrong-type",
    ),
    pytest.param({"theme": MEGA}, "at most", "INVALID_PREFERENCES", id="megabyte"),
    pytest.param([1, 2], "JSON object", "BAD_USER_INPUT", id="not-an-object"),
]


@pytest.mark.parametrize(("document", "named", "code"), PREFERENCES_BAD)
async def test_bad_preferences_answer_a_code_and_the_services_message(
    stack: Stack,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
    document: Any,
    named: str,
    code: str,
) -> None:
    team = await seed_team(auth_runtime, tenant_resources, user_resources, [("Cy", "owner")])
    token = await token_of(stack.graphql, team.owner, None)
    body = await gql(stack.graphql, UPDATE_PREFERENCES, {"input": document}, token=token)
    assert body["data"] is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == code, error
    assert named in error["message"], error
    assert len(error["message"]) < 600 and "xxxxxxxxxx" not in error["message"]
    me = _ok(await gql(stack.graphql, "{ me { preferences { stored } } }", token=token))
    assert me["me"]["preferences"]["stored"] == {}


async def test_another_tenants_preferences_and_hostile_ids_are_refused(
    stack: Stack, auth_runtime: AuthRuntime, tenant_resources: Resources, user_resources: Resources
) -> None:
    team = await seed_team(auth_runtime, tenant_resources, user_resources, [("Di", "owner")])
    token = await token_of(stack.graphql, team.owner, team.tenant_id)
    other = str(uuid.uuid4())
    write = await gql(
        stack.graphql, UPDATE_PREFERENCES, {"input": {}, "tenantId": other}, token=token
    )
    read = await gql(
        stack.graphql,
        "query($t: ID) { me { userId preferences(tenantId: $t) { stored } } }",
        {"t": other},
        token=token,
    )
    hostile = await gql(stack.graphql, USER, {"id": "A" * 100_000}, token=token)
    unknown = await gql(stack.graphql, USER, {"id": other}, token=token)
    anonymous = await gql(stack.graphql, UPDATE_PROFILE, {"input": {"title": "x"}})

    assert code_of(write) == "FORBIDDEN", write
    assert code_of(read) == "FORBIDDEN", read
    assert code_of(hostile) == "BAD_USER_INPUT" and len(str(hostile)) < 2000
    assert unknown == {"data": {"user": None}}, unknown
    assert code_of(anonymous) == "UNAUTHENTICATED", anonymous
