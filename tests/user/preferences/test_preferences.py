"""Preferences: the published schema, defaults, refusals naming the key, per tenant only in the
active tenant, and hostile bodies answered with a 4xx."""

from __future__ import annotations

import uuid

import pytest
from jsonschema import Draft202012Validator

from services.user.preferences import document
from services.user.preferences.document import Scope
from tests.user.user_api import UserApi

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_schema_is_published_and_valid(user_api: UserApi) -> None:
    async with user_api.client(uuid.uuid4()) as client:
        answer = await client.get("/users/preferences/schema")
    assert answer.status_code == 200
    schema = answer.json()
    Draft202012Validator.check_schema(schema)
    assert schema["x-version"] == document.CURRENT_VERSION
    assert set(schema["$defs"]) >= {"user", "tenant"}


async def test_defaults_then_put_then_read(user_api: UserApi) -> None:
    me = uuid.uuid4()
    async with user_api.client(me) as client:
        fresh = (await client.get("/users/me/preferences")).json()
        assert fresh["stored"] == {} and fresh["values"] == document.defaults(Scope.USER)
        assert fresh["schema_version"] == 1 and fresh["updated_at"] is None
        put = await client.put(
            "/users/me/preferences", json={"theme": "dark", "notifications": {"email": False}}
        )
        assert put.status_code == 200, put.text
        values = put.json()["values"]
        assert values["theme"] == "dark"
        assert values["notifications"] == {"email": False, "in_app": True, "digest": "weekly"}
        assert put.json()["stored"] == {"theme": "dark", "notifications": {"email": False}}
        replaced = await client.put("/users/me/preferences", json={"week_start": "sunday"})
        assert replaced.json()["values"]["theme"] == "system"
        assert (await client.get("/users/me/preferences")).json()["stored"] == {
            "week_start": "sunday"
        }
    async with user_api.client(uuid.uuid4()) as other:
        assert (await other.get("/users/me/preferences")).json()["stored"] == {}


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"colour": "red"}, ["'colour'"]),
        ({"notifications": {"sms": True}}, ["'notifications.sms'"]),
        ({"theme": 3}, ["theme"]),
        ({"theme": "pink"}, ["theme"]),
        ({"notifications": {"email": "yes"}}, ["notifications.email"]),
        ({"accessibility": []}, ["accessibility"]),
        ({"foo": 1, "theme": "x"}, ["'foo'", "theme"]),
    ],
)
async def test_refusals_name_the_key(
    user_api: UserApi, body: dict[str, object], names: list[str]
) -> None:
    async with user_api.client(uuid.uuid4()) as client:
        answer = await client.put("/users/me/preferences", json=body)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "InvalidPreferences"
    for name in names:
        assert any(name in issue["msg"] for issue in problem["errors"]), problem


async def test_tenant_preferences_only_in_the_active_tenant(user_api: UserApi) -> None:
    me, tenant, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with user_api.client(me, tenant, "member") as client:
        path = f"/users/me/tenants/{tenant}/preferences"
        assert (await client.get(path)).json()["values"]["default_view"] == "list"
        put = await client.put(path, json={"default_view": "grid", "pinned": ["a", "b"]})
        assert put.status_code == 200, put.text
        assert put.json()["tenant_id"] == str(tenant)
        refused = await client.put(path, json={"theme": "dark"})  # a user-level key
        assert refused.status_code == 422 and "'theme'" in refused.text
        assert (await client.put(path, json={"pinned": ["a", "a"]})).status_code == 422
        for method in ("GET", "PUT"):
            answer = await client.request(method, f"/users/me/tenants/{other}/preferences", json={})
            assert answer.status_code == 403
        # The user-level document is apart from the tenant's.
        assert (await client.get("/users/me/preferences")).json()["stored"] == {}
    async with user_api.client(me, other, "member") as elsewhere:
        fresh = await elsewhere.get(f"/users/me/tenants/{other}/preferences")
        assert fresh.json()["stored"] == {}
    async with user_api.client(me, None) as none:
        assert (await none.get(f"/users/me/tenants/{tenant}/preferences")).status_code == 403


@pytest.mark.parametrize(
    "content",
    [
        b"[1, 2]",
        b"not json",
        b'\xff\xfe{"theme": 1}',
        b"{" + b'"a":{' * 5000 + b"}" * 5001,
        b'{"theme": "' + b"x" * 1_000_000 + b'"}',
        b'{"pinned": [' + b",".join([b'"x"'] * 5000) + b"]}",
        b"",
    ],
)
async def test_hostile_bodies_are_4xx(user_api: UserApi, content: bytes) -> None:
    tenant = uuid.uuid4()
    async with user_api.client(uuid.uuid4(), tenant, "member") as client:
        for path in ("/users/me/preferences", f"/users/me/tenants/{tenant}/preferences"):
            answer = await client.put(
                path, content=content, headers={"content-type": "application/json"}
            )
            assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text[:200])
