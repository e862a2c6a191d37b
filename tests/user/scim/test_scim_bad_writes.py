"""Hostile and refused SCIM writes: every one answers a SCIM 4xx (never a 5xx) before any
workflow starts, and writes nothing (the profile and the directory entry read back unchanged).
No worker runs here: a write that got as far as starting a run would wait and answer 503."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from storage.db import transaction
from storage.users.directory import DirectoryRepository
from storage.users.repository import ProfileRepository
from tests.user.scim.scim_api import (
    SCIM_JSON,
    ScimTenant,
    assert_scim_error,
    issue_token,
    scim_client,
    scim_tenant,
)
from tests.user.user_api import UserApi

pytestmark = pytest.mark.asyncio(loop_scope="session")

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch(*operations: Any) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


def replace(path: str, value: Any) -> dict[str, Any]:
    return patch({"op": "replace", "path": path, "value": value})


async def _state(api: UserApi, tenant: ScimTenant, user_id: uuid.UUID) -> tuple[Any, ...]:
    async with transaction(api.resources.database, tenant.team.tenant_id) as db:
        profile = await ProfileRepository(db).get(user_id)
        entry = await DirectoryRepository(db, tenant.team.tenant_id).entry(user_id)
    assert profile is not None and entry is not None
    return (
        profile.display_name,
        profile.given_name,
        profile.title,
        profile.phone,
        profile.status,
        profile.updated_at,
        entry.role,
        entry.status,
        entry.display_name,
    )


#: (body, status, scimType) of PATCH /Users/{member}.
BAD_PATCHES: list[tuple[Any, int, str | None]] = [
    (replace("name.givenName", "x" * 1_000_000), 413, None),
    (replace("name.givenName", "x" * 200_000), 400, "invalidValue"),
    (replace("name.givenName", 5), 400, "invalidValue"),
    (replace("name.givenName", {"a": [[[[[[1]]]]]]}), 400, "invalidValue"),
    (replace("title", nested(40)), 400, None),
    (replace("active", {"not": "a boolean"}), 400, "invalidValue"),
    (replace("displayName", "bad\u202econtrol"), 400, "invalidValue"),
    (replace("timezone", "Mars/Olympus"), 400, "invalidValue"),
    (replace("phoneNumbers", [{"value": "not a phone", "type": "work"}]), 400, "invalidValue"),
    (replace("nope", 1), 400, "invalidPath"),
    (replace("urn:example:unknown:attr", 1), 400, "invalidPath"),
    (replace('emails[type eq "work"', "a@b.c"), 400, None),
    (replace("emails[" + "(" * 5000 + 'type eq "x"' + ")" * 5000 + "].value", "x"), 400, None),
    (replace('emails[type eq "work"].value', "someone-else@example.com"), 400, "mutability"),
    (replace("userName", "someone-else@example.com"), 400, "mutability"),
    (replace("id", str(uuid.uuid4())), 400, "mutability"),
    (replace("meta.created", "2020-01-01T00:00:00Z"), 400, None),
    (patch({"op": "explode", "path": "title", "value": "x"}), 400, "invalidValue"),
    (patch({"op": "remove"}), 400, None),
    (patch(), 400, "invalidValue"),
    (patch(*[{"op": "add", "path": "title", "value": "x"}] * 101), 400, "invalidValue"),
    ({"schemas": [PATCH_OP], "Operations": "not a list"}, 400, None),
    ({"schemas": [PATCH_OP]}, 400, None),
    ([1, 2, 3], 400, "invalidSyntax"),
    ("just a string", 400, "invalidSyntax"),
]


async def test_bad_patches_are_scim_400s_and_write_nothing(user_api: UserApi) -> None:
    tenant = await scim_tenant(user_api)
    member = tenant.team.member
    before = await _state(user_api, tenant, member)
    async with scim_client(user_api, tenant.token) as client:
        for body, status, scim_type in BAD_PATCHES:
            answer = await client.patch(f"/scim/v2/Users/{member}", json=body)
            assert answer.status_code == status, (str(body)[:120], answer.text[:300])
            assert_scim_error(answer, status, scim_type)
            assert len(answer.text) < 2000, "an error never echoes the value"
        raw = {
            "not UTF-8": b'{"schemas":["' + PATCH_OP.encode() + b'"],"Operations":[{"op":"add",'
            b'"path":"title","value":"\xff\xfe"}]}',
            "not JSON": b"{'Operations': ",
            "deep": b'{"Operations":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "lone surrogate": b'{"schemas":["' + PATCH_OP.encode() + b'"],"Operations":[{"op":'
            b'"add","path":"title","value":"\\ud800"}]}',
        }
        for name, content in raw.items():
            answer = await client.patch(
                f"/scim/v2/Users/{member}",
                content=content,
                headers={"content-type": "application/scim+json"},
            )
            # The platform's JSON guard (services/common/middleware.py) answers bodies no route
            # can read (not UTF-8, too deep, a lone surrogate) before SCIM's routes run, in
            # problem+json; the others are SCIM errors.
            assert answer.status_code in (400, 422), (name, answer.text[:300])
            if answer.headers["content-type"] != "application/problem+json":
                assert_scim_error(answer, answer.status_code)
    assert await _state(user_api, tenant, member) == before


async def test_bad_puts_and_posts_are_scim_400s(user_api: UserApi) -> None:
    tenant = await scim_tenant(user_api)
    member = tenant.team.member
    before = await _state(user_api, tenant, member)
    async with scim_client(user_api, tenant.token) as client:
        current = (await client.get(f"/scim/v2/Users/{member}")).json()
        body = {k: v for k, v in current.items() if k not in ("meta", "groups", "id")}
        cases = [
            ({**body, "favouriteColour": "red"}, "invalidValue"),
            ({**body, "name": {"givenName": "A", "shoeSize": 44}}, "invalidValue"),
            ({**body, "active": [True]}, "invalidValue"),
            ({**body, "userName": "renamed@example.com"}, "mutability"),
            ({**body, "emails": [{"value": "other@example.com", "primary": True}]}, "mutability"),
            ({**body, "locale": "x" * 500}, "invalidValue"),
            ({k: v for k, v in body.items() if k != "userName"}, None),
        ]
        for replacement, scim_type in cases:
            answer = await client.put(f"/scim/v2/Users/{member}", json=replacement)
            assert_scim_error(answer, 400, scim_type)
        posts: list[tuple[dict[str, Any], int, str | None]] = [
            ({"schemas": [USER_URN], "userName": "fresh@example.com", "x": 1}, 400, None),
            ({"schemas": [USER_URN]}, 400, None),
            ({"schemas": [USER_URN], "userName": "not an address"}, 400, "invalidValue"),
            ({"schemas": [USER_URN], "userName": "y" * 300_000}, 413, None),
            ({"schemas": [USER_URN], "userName": current["userName"].upper()}, 409, "uniqueness"),
            (
                {"schemas": [USER_URN], "userName": "fresh@example.com", "timezone": "Nowhere"},
                400,
                "invalidValue",
            ),
        ]
        for wanted, status, scim_type in posts:
            answer = await client.post("/scim/v2/Users", json=wanted)
            assert_scim_error(answer, status, scim_type)
        listed = (await client.get("/scim/v2/Users", params={"count": 200})).json()
    assert await _state(user_api, tenant, member) == before
    assert listed["totalResults"] == 4, "no person was created"


async def test_bad_group_writes_are_refused(user_api: UserApi) -> None:
    tenant = await scim_tenant(user_api)
    async with scim_client(user_api, tenant.token) as client:
        groups = {
            g["displayName"]: g for g in (await client.get("/scim/v2/Groups")).json()["Resources"]
        }
        admin, members = groups["admin"]["id"], groups["member"]["id"]
        stranger = str(uuid.uuid4())
        cases = [
            (
                admin,
                patch({"op": "add", "path": "members", "value": [{"value": stranger}]}),
                "invalidValue",
            ),
            (
                admin,
                patch({"op": "add", "path": "members", "value": [{"value": "not-an-id"}]}),
                "invalidValue",
            ),
            (admin, replace("displayName", "superusers"), "mutability"),
            (
                members,
                patch({"op": "remove", "path": f'members[value eq "{tenant.team.member}"]'}),
                "mutability",
            ),
            (
                admin,
                patch(
                    {
                        "op": "add",
                        "path": "members",
                        "value": [{"value": str(uuid.uuid4())} for _ in range(201)],
                    }
                ),
                "invalidValue",
            ),
            (admin, replace("nope", 1), "invalidPath"),
        ]
        for group_id, body, scim_type in cases:
            answer = await client.patch(f"/scim/v2/Groups/{group_id}", json=body)
            assert_scim_error(answer, 400, scim_type)
        renamed = await client.put(
            f"/scim/v2/Groups/{admin}", json={"schemas": [GROUP_URN], "displayName": "root"}
        )
        assert_scim_error(renamed, 400, "mutability")
        no_owner = await client.put(
            f"/scim/v2/Groups/{groups['owner']['id']}",
            json={"schemas": [GROUP_URN], "displayName": "owner", "members": []},
        )
        assert_scim_error(no_owner, 400, "mutability")
        after = {
            g["displayName"]: g for g in (await client.get("/scim/v2/Groups")).json()["Resources"]
        }
    assert after == groups


def group(**attributes: Any) -> dict[str, Any]:
    return {"schemas": [GROUP_URN], **attributes}


async def test_bad_group_creations_and_deletions_start_nothing(user_api: UserApi) -> None:
    """``POST /Groups`` and ``DELETE /Groups/{id}`` refused before ``role_change`` starts (no
    worker runs here: a write that started one would answer 503): the Groups read back the
    same, and another tenant's member or Group is no target."""
    tenant = await scim_tenant(user_api)
    other = await scim_tenant(user_api, "B ")
    async with scim_client(user_api, other.token) as client:
        other_groups = [g["id"] for g in (await client.get("/scim/v2/Groups")).json()["Resources"]]
    async with scim_client(user_api, tenant.token) as client:
        before = (await client.get("/scim/v2/Groups")).json()
        posts: list[tuple[Any, int, str | None]] = [
            (group(displayName="x" * 1_000_000), 413, None),
            (group(displayName="x" * 200_000), 400, "invalidValue"),
            (group(displayName="Not A Role!"), 400, "invalidValue"),
            (group(displayName="ab"), 400, "invalidValue"),
            (group(displayName={"a": [[[[1]]]]}), 400, "invalidValue"),
            (group(displayName=nested(40)), 400, None),
            (group(), 400, "invalidValue"),
            (group(displayName="admin"), 409, "uniqueness"),
            (group(displayName="ops", externalId="e" * 256), 400, "invalidValue"),
            (group(displayName="ops", members=[{"value": str(other.team.member)}]), 400, None),
            (group(displayName="ops", members=[{"value": "not-an-id"}]), 400, "invalidValue"),
            (
                group(displayName="ops", members=[{"value": str(uuid.uuid4())}] * 201),
                400,
                "invalidValue",
            ),
            (group(displayName="ops", nope=1), 400, None),
            ([1, 2], 400, "invalidSyntax"),
        ]
        for body, status, scim_type in posts:
            answer = await client.post("/scim/v2/Groups", json=body)
            assert_scim_error(answer, status, scim_type)
            assert len(answer.text) < 2000, "an error never echoes the value"
        raw = {
            "not UTF-8": b'{"schemas":["' + GROUP_URN.encode() + b'"],"displayName":"\xff\xfe"}',
            "deep": b'{"displayName":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        }
        for name, content in raw.items():
            answer = await client.post(
                "/scim/v2/Groups", content=content, headers={"content-type": SCIM_JSON}
            )
            assert answer.status_code in (400, 422), (name, answer.text[:300])
        for built_in in before["Resources"]:
            assert_scim_error(
                await client.delete(f"/scim/v2/Groups/{built_in['id']}"), 400, "mutability"
            )
        for group_id in [*other_groups, str(uuid.uuid4()), "not-an-id"]:
            assert_scim_error(await client.delete(f"/scim/v2/Groups/{group_id}"), 404)
        after = (await client.get("/scim/v2/Groups")).json()
    assert after == before


async def test_an_admins_token_does_not_change_the_owner(user_api: UserApi) -> None:
    tenant = await scim_tenant(user_api)
    team = tenant.team
    async with user_api.client(team.admin, team.tenant_id, "admin") as admin:
        issued = await admin.post(f"/tenants/{team.tenant_id}/scim-tokens", json={"name": "idp"})
    assert issued.status_code == 201, issued.text
    before = await _state(user_api, tenant, team.owner)
    async with scim_client(user_api, issued.json()["token"]) as client:
        answer = await client.patch(f"/scim/v2/Users/{team.owner}", json=replace("title", "x"))
    assert_scim_error(answer, 403)
    assert await _state(user_api, tenant, team.owner) == before


async def test_revoked_and_foreign_tokens_write_nothing(user_api: UserApi) -> None:
    a, b = await scim_tenant(user_api, "A "), await scim_tenant(user_api, "B ")
    token, token_id = await issue_token(user_api, a.team, "second")
    async with user_api.client(a.team.owner, a.team.tenant_id, "owner") as admin:
        revoked = await admin.delete(f"/tenants/{a.team.tenant_id}/scim-tokens/{token_id}")
    assert revoked.status_code == 204
    before = await _state(user_api, a, a.team.member)
    async with scim_client(user_api, token) as client:
        for method, path, body in (
            ("PATCH", f"/scim/v2/Users/{a.team.member}", replace("title", "x")),
            ("PUT", f"/scim/v2/Users/{a.team.member}", {"schemas": [USER_URN], "userName": "x"}),
            ("DELETE", f"/scim/v2/Users/{a.team.member}", None),
            ("POST", "/scim/v2/Users", {"schemas": [USER_URN], "userName": "n@example.com"}),
        ):
            assert_scim_error(await client.request(method, path, json=body), 401)
    async with scim_client(user_api, b.token) as client:
        for method in ("PATCH", "PUT", "DELETE"):
            answer = await client.request(
                method, f"/scim/v2/Users/{a.team.member}", json=replace("title", "x")
            )
            assert_scim_error(answer, 404)
        unknown = await client.patch(f"/scim/v2/Users/{uuid.uuid4()}", json=replace("title", "x"))
        assert_scim_error(unknown, 404)
    assert await _state(user_api, a, a.team.member) == before


async def test_a_pathological_filter_is_refused_quickly(user_api: UserApi) -> None:
    tenant = await scim_tenant(user_api)
    filters = [
        "(" * 1000 + 'userName eq "a"' + ")" * 1000,
        'userName co "' + "\\" * 1999,
        " or ".join(['userName co "(a+)+$"'] * 60),
        "not(" * 300 + "active eq true" + ")" * 300,
    ]
    async with scim_client(user_api, tenant.token) as client:
        for text in filters:
            started = time.monotonic()
            answer = await client.get("/scim/v2/Users", params={"filter": text})
            assert answer.status_code == 400, (text[:60], answer.text[:300])
            assert_scim_error(answer, 400, "invalidFilter")
            # Not a speed target: a bound that only an exponential parse would cross.
            assert time.monotonic() - started < 10, text[:60]
        # Brackets and regex syntax inside a value are only text: nothing matches.
        odd = await client.get(
            "/scim/v2/Users", params={"filter": 'emails[value co "' + "[(.*)+" * 300 + '"]'}
        )
    assert odd.status_code == 200 and odd.json()["totalResults"] == 0, odd.text[:300]


async def test_a_token_whose_issuer_lost_the_right_writes_nothing(user_api: UserApi) -> None:
    """A token acts as the admin who issued it: once that admin is a plain member, or gone from
    the tenant, its writes are 403s (reads still work: revoke the token to end those)."""
    tenant = await scim_tenant(user_api)
    team = tenant.team
    async with user_api.client(team.admin, team.tenant_id, "admin") as admin:
        issued = await admin.post(f"/tenants/{team.tenant_id}/scim-tokens", json={"name": "idp"})
    token = issued.json()["token"]
    before = await _state(user_api, tenant, team.member)
    await user_api.member(team.tenant_id, team.admin, "member")  # demoted
    writes = [
        ("PATCH", f"/scim/v2/Users/{team.member}", replace("title", "x")),
        ("PATCH", f"/scim/v2/Users/{team.member}", replace("active", False)),
        ("POST", "/scim/v2/Users", {"schemas": [USER_URN], "userName": "n@example.com"}),
    ]
    async with scim_client(user_api, token) as client:
        for method, path, body in writes:
            assert_scim_error(await client.request(method, path, json=body), 403)
        assert (await client.get("/scim/v2/Users")).status_code == 200
    await user_api.member(team.tenant_id, team.admin, "admin", status="suspended")  # gone
    async with scim_client(user_api, token) as client:
        for method, path, body in writes:
            assert_scim_error(await client.request(method, path, json=body), 403)
        delete = await client.delete(f"/scim/v2/Users/{team.member}")
        assert_scim_error(delete, 403)
    assert await _state(user_api, tenant, team.member) == before
