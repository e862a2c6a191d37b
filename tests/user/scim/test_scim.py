"""SCIM 2.0 under /scim/v2 (issue 9): tokens issued per tenant by its admins and stored as
digests, discovery that tells the truth, Users (filter, sort, pagination) and Groups (one per
role) of the token's tenant only, hostile filters answered with a SCIM 400; writes to another
tenant's ids a 404, built-in Groups neither created again nor deleted. The writes themselves:
``test_scim_writes.py``, ``test_scim_groups.py``, ``test_scim_attributes.py``,
``test_scim_bad_writes.py``."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any
from urllib.parse import quote

import pytest

from storage.db import transaction
from storage.users.models import ScimToken
from tests.user.scim.scim_api import (
    SCIM_JSON,
    assert_scim_error,
    issue_token,
    scim_client,
    scim_tenant,
)
from tests.user.user_api import UserApi, seed_team

pytestmark = pytest.mark.asyncio(loop_scope="session")

USERS = "/scim/v2/Users"
GROUPS = "/scim/v2/Groups"
_DEACTIVATE = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "replace", "path": "active", "value": False}],
}


async def _users(client: Any, **params: Any) -> dict[str, Any]:
    answer = await client.get(USERS, params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == SCIM_JSON
    return answer.json()  # type: ignore[no-any-return]


async def _names(client: Any, **params: Any) -> list[str]:
    return [user["displayName"] for user in (await _users(client, **params))["Resources"]]


# --- tokens -------------------------------------------------------------------------------------


async def test_tokens_issued_listed_revoked_and_stored_as_digests(user_api: UserApi) -> None:
    team = await seed_team(user_api)
    token, token_id = await issue_token(user_api, team, "entra")
    async with user_api.client(team.owner, team.tenant_id, "owner") as admin:
        listed = await admin.get(f"/tenants/{team.tenant_id}/scim-tokens")
    assert listed.status_code == 200
    [row] = listed.json()
    assert row["id"] == str(token_id) and row["name"] == "entra" and "token" not in row
    assert row["created_by"] == str(team.owner) and row["revoked_at"] is None

    async with transaction(user_api.resources.database, team.tenant_id) as db:
        stored = await db.get(ScimToken, token_id)
    assert stored is not None
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(stored.__dict__)

    async with scim_client(user_api, token) as client:
        assert (await client.get(USERS)).status_code == 200
    async with user_api.client(team.owner, team.tenant_id, "owner") as admin:
        used = (await admin.get(f"/tenants/{team.tenant_id}/scim-tokens")).json()[0]
        assert used["last_used_at"] is not None
        revoked = await admin.delete(f"/tenants/{team.tenant_id}/scim-tokens/{token_id}")
        again = await admin.delete(f"/tenants/{team.tenant_id}/scim-tokens/{token_id}")
        unknown = await admin.delete(f"/tenants/{team.tenant_id}/scim-tokens/{uuid.uuid4()}")
        after = (await admin.get(f"/tenants/{team.tenant_id}/scim-tokens")).json()[0]
    assert revoked.status_code == 204 and again.status_code == 204
    assert unknown.status_code == 404
    assert after["revoked_at"] is not None
    async with scim_client(user_api, token) as client:
        assert_scim_error(await client.get(USERS), 401)


async def test_only_admins_of_the_active_tenant_manage_tokens(user_api: UserApi) -> None:
    team = await seed_team(user_api)
    other = await seed_team(user_api)
    path = f"/tenants/{team.tenant_id}/scim-tokens"
    for role in ("member", "viewer"):
        async with user_api.client(getattr(team, role), team.tenant_id, role) as client:
            assert (await client.post(path, json={"name": "x"})).status_code == 403
            assert (await client.get(path)).status_code == 403
    async with user_api.client(team.admin, team.tenant_id, "admin") as client:
        assert (await client.post(path, json={"name": "by admin"})).status_code == 201
        assert (await client.post(path, json={"name": ""})).status_code == 422
    # An owner of another tenant, or with a token for another tenant: 403.
    async with user_api.client(other.owner, other.tenant_id, "owner") as client:
        assert (await client.post(path, json={"name": "x"})).status_code == 403
        assert (await client.get(path)).status_code == 403
        token_id = (await client.get(f"/tenants/{other.tenant_id}/scim-tokens")).json()
        assert token_id == []


async def test_bad_tokens_are_a_scim_401(user_api: UserApi) -> None:
    tenant = await scim_tenant(user_api)
    tenant_hex = tenant.team.tenant_id.hex
    forged = f"adxscim_{tenant_hex}_{'A' * 43}"
    other_tenant = tenant.token.replace(tenant_hex, uuid.uuid4().hex)
    jwt = user_api.token(tenant.team.owner, tenant.team.tenant_id, "owner")
    for bad in (None, "garbage", forged, other_tenant, jwt, tenant.token + "x", "Basic x"):
        async with scim_client(user_api, bad) as client:
            for path in (USERS, f"{USERS}/{tenant.team.owner}", GROUPS, "/scim/v2/Schemas"):
                answer = await client.get(path)
                assert_scim_error(answer, 401)
                assert answer.headers["www-authenticate"].startswith("Bearer")


# --- discovery ----------------------------------------------------------------------------------


async def test_discovery_says_what_is_supported(user_api: UserApi) -> None:
    tenant = await scim_tenant(user_api)
    async with scim_client(user_api, tenant.token) as client:
        config = (await client.get("/scim/v2/ServiceProviderConfig")).json()
        schemas = (await client.get("/scim/v2/Schemas")).json()
        user_schema = await client.get(
            "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"
        )
        types = (await client.get("/scim/v2/ResourceTypes")).json()
        group_type = await client.get("/scim/v2/ResourceTypes/Group")
        missing = await client.get("/scim/v2/ResourceTypes/Printer")
    assert config["patch"] == {"supported": True}
    assert config["bulk"]["supported"] is False
    assert config["filter"] == {"supported": True, "maxResults": 200}
    assert config["sort"] == {"supported": True}
    assert config["etag"] == {"supported": False}
    assert config["changePassword"] == {"supported": False}
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert [s["id"] for s in schemas["Resources"]] == [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
    ]
    assert user_schema.status_code == 200 and user_schema.json()["name"] == "User"
    assert {t["endpoint"] for t in types["Resources"]} == {"/Users", "/Groups"}
    assert group_type.json()["schema"] == "urn:ietf:params:scim:schemas:core:2.0:Group"
    assert_scim_error(missing, 404)


# --- users --------------------------------------------------------------------------------------


async def _people(api: UserApi) -> tuple[Any, dict[str, uuid.UUID]]:
    tenant = await scim_tenant(api)
    ids = {}
    for name, role, status in (
        ("Ada Lovelace", "member", "active"),
        ("Grace Hopper", "admin", "active"),
        ("Alan Turing", "viewer", "suspended"),
        ("100% _wild", "member", "active"),
    ):
        user_id = await api.profile(
            name, email=f"{name.split()[0].lower()}-{uuid.uuid4().hex[:6]}@example.com"
        )
        await api.member(tenant.team.tenant_id, user_id, role, status=status)
        ids[name] = user_id
    return tenant, ids


async def test_users_filter(user_api: UserApi) -> None:
    tenant, ids = await _people(user_api)
    async with scim_client(user_api, tenant.token) as client:
        one = await _users(client)
        assert one["totalResults"] == 8
        ada = (await _users(client, filter=f'id eq "{ids["Ada Lovelace"]}"'))["Resources"][0]
        email = ada["userName"]
        assert ada["emails"] == [{"value": email, "type": "work", "primary": True}]
        assert ada["active"] is True and ada["groups"][0]["display"] == "member"
        assert await _names(client, filter=f'userName eq "{email.upper()}"') == ["Ada Lovelace"]
        assert await _names(client, filter=f'emails.value eq "{email}"') == ["Ada Lovelace"]
        assert await _names(client, filter=f'emails[value eq "{email}"]') == ["Ada Lovelace"]
        assert await _names(client, filter='displayName sw "ada"') == ["Ada Lovelace"]
        assert await _names(client, filter='displayName co "OPP"') == ["Grace Hopper"]
        assert await _names(client, filter='displayName ew "ing"') == ["Alan Turing"]
        assert await _names(client, filter="active eq false") == ["Alan Turing"]
        assert await _names(client, filter='displayName sw "ada" and not (active eq false)') == [
            "Ada Lovelace"
        ]
        assert await _names(client, filter='displayName ew "ing" and active eq true') == []
        both = await _names(client, filter='displayName sw "ada" or displayName sw "grace"')
        assert sorted(both) == ["Ada Lovelace", "Grace Hopper"]
        # LIKE wildcards are characters, not wildcards.
        assert await _names(client, filter='displayName co "%"') == ["100% _wild"]
        assert await _names(client, filter='displayName sw "_"') == []
        assert await _names(client, filter='externalId eq "x"') == []
        assert await _names(client, filter='id eq "not-a-uuid"') == []
        assert len(await _names(client, filter="displayName pr")) == 8
        assert await _names(client, filter='name.givenName eq "x"') == []
        answer = await client.get(
            f"{USERS}/{ids['Grace Hopper']}", params={"attributes": "userName"}
        )
        assert set(answer.json()) == {"schemas", "id", "userName"}


async def test_users_sort_and_pagination(user_api: UserApi) -> None:
    tenant, _ = await _people(user_api)
    async with scim_client(user_api, tenant.token) as client:
        names = await _names(client, sortBy="displayName")
        assert names == sorted(names, key=str.lower)
        assert await _names(client, sortBy="displayName", sortOrder="descending") == names[::-1]
        page = await _users(client, sortBy="displayName", startIndex=3, count=2)
        assert page["totalResults"] == 8 and page["startIndex"] == 3
        assert page["itemsPerPage"] == 2
        assert [u["displayName"] for u in page["Resources"]] == names[2:4]
        empty = await _users(client, count=0)
        assert empty["totalResults"] == 8 and empty.get("Resources", []) == []
        beyond = await _users(client, startIndex=100)
        assert beyond["totalResults"] == 8 and beyond.get("Resources", []) == []
        assert len((await _users(client, count=100000))["Resources"]) == 8
        assert len((await _users(client, startIndex=-5))["Resources"]) == 8
        assert_scim_error(await client.get(USERS, params={"sortBy": "password"}), 400)
        assert_scim_error(await client.get(USERS, params={"sortOrder": "sideways"}), 400)
        assert_scim_error(await client.get(USERS, params={"count": "many"}), 400, "invalidValue")


@pytest.mark.parametrize(
    "hostile",
    [
        'userName eq "x" or 1 eq 1',
        "userName eq \"x' OR '1'='1\"",
        'userName eq "x"; DROP TABLE users.directory; --',
        "userName eq x",
        'password eq "x"',
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "x"',
        'active eq "yes"',
        "userName eq true",
        'id gt "x"',
        "active gt true",
        'groups[value eq "x"]',
        'emails[type eq "work"]',
        "(" * 300 + 'userName eq "x"' + ")" * 300,
        "not (" * 200 + 'userName eq "x"' + ")" * 200,
        " or ".join(['userName eq "x"'] * 60),
        'userName eq "' + "a" * 60_000 + '"',
        "\x00",
        'userName eq "\x00"',
    ],
)
async def test_hostile_filters_are_a_clean_scim_400(user_api: UserApi, hostile: str) -> None:
    tenant = await scim_tenant(user_api)
    async with scim_client(user_api, tenant.token) as client:
        answer = await client.get(USERS, params={"filter": hostile})
        if answer.status_code == 200:
            # A well-formed filter on a supported attribute: matches nothing, leaks nothing.
            assert answer.json()["totalResults"] == 0, hostile[:80]
        else:
            assert_scim_error(answer, 400, "invalidFilter")
        groups = await client.get(GROUPS, params={"filter": hostile})
        assert groups.status_code in (200, 400), groups.text
        # The table is still there and the tenant still readable.
        assert (await _users(client))["totalResults"] == 4


async def test_a_megabyte_filter_is_refused_before_parsing(user_api: UserApi) -> None:
    """httpx refuses to send such a URL, so the request goes to the app as raw ASGI (a real
    server's request line limit would refuse it earlier still)."""
    tenant = await scim_tenant(user_api)
    query = b"filter=" + quote('userName eq "' + "a" * 1_000_000 + '"').encode()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": USERS,
        "raw_path": USERS.encode(),
        "query_string": query,
        "headers": [(b"host", b"user"), (b"authorization", f"Bearer {tenant.token}".encode())],
        "client": ("10.0.0.1", 40000),
        "server": ("user", 80),
    }
    await user_api.app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 400, body[:300]
    assert json.loads(body)["scimType"] == "invalidFilter"


# --- groups -------------------------------------------------------------------------------------


async def test_groups_are_the_roles(user_api: UserApi) -> None:
    tenant = await scim_tenant(user_api)
    team = tenant.team
    custom = await user_api.profile("Pat Payroll")
    await user_api.member(team.tenant_id, custom, "billing-manager")
    async with scim_client(user_api, tenant.token) as client:
        listed = (await client.get(GROUPS)).json()
        by_name = {g["displayName"]: g for g in listed["Resources"]}
        assert list(by_name) == ["owner", "admin", "member", "viewer", "billing-manager"]
        assert [m["value"] for m in by_name["admin"]["members"]] == [str(team.admin)]
        assert [m["value"] for m in by_name["billing-manager"]["members"]] == [str(custom)]
        admin_id = by_name["admin"]["id"]
        one = await client.get(f"{GROUPS}/{admin_id}")
        assert one.status_code == 200 and one.json()["displayName"] == "admin"
        found = (await client.get(GROUPS, params={"filter": 'displayName eq "viewer"'})).json()
        assert [g["displayName"] for g in found["Resources"]] == ["viewer"]
        paged = (await client.get(GROUPS, params={"startIndex": 2, "count": 2})).json()
        assert [g["displayName"] for g in paged["Resources"]] == ["admin", "member"]
        sorted_ = (await client.get(GROUPS, params={"sortBy": "displayName"})).json()
        assert [g["displayName"] for g in sorted_["Resources"]] == [
            "admin",
            "billing-manager",
            "member",
            "owner",
            "viewer",
        ]
        no_members = await client.get(
            f"{GROUPS}/{admin_id}", params={"excludedAttributes": "members"}
        )
        assert "members" not in no_members.json()
        assert_scim_error(await client.get(f"{GROUPS}/{uuid.uuid4()}"), 404)
        user = (await client.get(f"{USERS}/{team.admin}")).json()
        assert user["groups"] == [{"value": admin_id, "display": "admin", "type": "direct"}]


# --- isolation ----------------------------------------------------------------------------------


async def test_a_tenants_token_sees_nothing_of_another_tenant(user_api: UserApi) -> None:
    a = await scim_tenant(user_api, "A ")
    b = await scim_tenant(user_api, "B ")
    async with scim_client(user_api, b.token) as client:
        b_groups = [g["id"] for g in (await client.get(GROUPS)).json()["Resources"]]
    b_users = [b.team.owner, b.team.admin, b.team.member, b.team.viewer]
    async with scim_client(user_api, a.token) as client:
        everyone = await _users(client, count=200)
        assert {u["id"] for u in everyone["Resources"]} == {
            str(x) for x in (a.team.owner, a.team.admin, a.team.member, a.team.viewer)
        }
        for user_id in b_users:
            assert_scim_error(await client.get(f"{USERS}/{user_id}"), 404)
            found = await _users(client, filter=f'id eq "{user_id}"')
            assert found["totalResults"] == 0
        assert (await _users(client, filter='displayName co "B "'))["totalResults"] == 0
        a_groups = (await client.get(GROUPS)).json()["Resources"]
        assert not {g["id"] for g in a_groups} & set(b_groups)
        for group in a_groups:
            members = {m["value"] for m in group.get("members", [])}
            assert not members & {str(x) for x in b_users}
        # Writes to B's ids: the same 404 as an unknown id, whatever the body (the target is
        # looked up before the body is read), and nothing starts.
        for group_id in b_groups:
            assert_scim_error(await client.get(f"{GROUPS}/{group_id}"), 404)
            for method in ("PUT", "PATCH", "DELETE"):
                answer = await client.request(method, f"{GROUPS}/{group_id}", json={})
                assert_scim_error(answer, 404)
        for user_id in b_users:
            for method in ("PUT", "PATCH", "DELETE"):
                for body in ({}, _DEACTIVATE):
                    answer = await client.request(method, f"{USERS}/{user_id}", json=body)
                    assert_scim_error(answer, 404)
    # And the token-management routes of B refuse A's admins (see the admin test above).


async def test_group_writes_of_roles_scim_cannot_make_or_delete(user_api: UserApi) -> None:
    """Groups are the tenant's roles: a built-in one is neither created again nor deleted, a
    name outside the role-name rule is refused, an unknown Group is a 404 (the workflow-backed
    creation and deletion: ``test_scim_groups.py``)."""
    tenant = await scim_tenant(user_api)
    async with scim_client(user_api, tenant.token) as client:
        group_id = (await client.get(GROUPS)).json()["Resources"][0]["id"]
        urn = "urn:ietf:params:scim:schemas:core:2.0:Group"
        invalid = await client.post(GROUPS, json={"schemas": [urn], "displayName": "x"})
        built_in = await client.post(GROUPS, json={"schemas": [urn], "displayName": "owner"})
        deleted = await client.delete(f"{GROUPS}/{group_id}")
        unknown = await client.delete(f"{GROUPS}/{uuid.uuid4()}")
        assert_scim_error(await client.get(f"/scim/v2/{uuid.uuid4()}"), 404)
    assert_scim_error(invalid, 400, "invalidValue")
    assert_scim_error(built_in, 409, "uniqueness")
    assert_scim_error(deleted, 400, "mutability")
    assert_scim_error(unknown, 404)
