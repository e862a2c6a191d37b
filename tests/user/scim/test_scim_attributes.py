"""SCIM's record of a member beyond the profile (``users.scim_users``): ``externalId`` (unique in
the tenant, filterable: what Okta and Entra ID ask first) and the attributes the platform has no
field for round-trip on PATCH, PUT and GET; bounded (a 200 KB attribute a 400, a megabyte body
a 413, nesting beyond the schema refused), never half-written, and invisible to another
tenant's token. Only direct writes here (no ``active`` change): no worker runs."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import pytest

from storage.db import transaction
from storage.users.scim_records import ScimUserRecords
from tests.user.scim.scim_api import ScimTenant, assert_scim_error, scim_client, scim_tenant
from tests.user.user_api import UserApi

pytestmark = pytest.mark.asyncio(loop_scope="session")

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USERS = "/scim/v2/Users"

EXTRAS: dict[str, Any] = {
    "nickName": "Gracie",
    "profileUrl": "https://people.example.com/grace",
    "userType": "Employee",
    "preferredLanguage": "en-GB",
    "ims": [{"value": "grace@chat.example.com", "type": "xmpp"}],
    "photos": [{"value": "https://people.example.com/grace.png", "type": "photo"}],
    "addresses": [
        {
            "type": "work",
            "streetAddress": "1 Main St",
            "locality": "Springfield",
            "postalCode": "12345",
            "country": "US",
            "primary": True,
        }
    ],
    "entitlements": [{"value": "vpn"}],
    "roles": [{"value": "engineer"}],
    "x509Certificates": [{"value": "TUlJQ2F6Q0NBZFNnQXdJQkFnSUJBREFOQmdrcWhraUc5dzBC"}],
}


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


async def _record(api: UserApi, tenant: ScimTenant, user_id: uuid.UUID) -> Any:
    async with transaction(api.resources.database, tenant.team.tenant_id) as db:
        row = await ScimUserRecords(db, tenant.team.tenant_id).of_user(user_id)
    return None if row is None else (row.external_id, row.attributes)


def _filter(expression: str) -> str:
    return f"{USERS}?filter={quote(expression)}"


async def test_external_id_and_other_attributes_round_trip(user_api: UserApi) -> None:
    tenant = await scim_tenant(user_api)
    member = tenant.team.member
    async with scim_client(user_api, tenant.token) as client:
        patched = await client.patch(
            f"{USERS}/{member}",
            json=patch(
                {"op": "add", "value": {"externalId": "00u1okta", **EXTRAS}},
                {"op": "add", "path": "name.middleName", "value": "Brewster"},
                {"op": "add", "path": "name.honorificPrefix", "value": "Dr."},
            ),
        )
        read = (await client.get(f"{USERS}/{member}")).json()
        found = (await client.get(_filter('externalId eq "00u1okta"'))).json()
        other_case = (await client.get(_filter('externalId eq "00U1OKTA"'))).json()
        sorted_by = (await client.get(f"{USERS}?sortBy=externalId&sortOrder=descending")).json()
        # PUT states the whole User: what it leaves out is no longer kept.
        put_body = {k: v for k, v in read.items() if k not in ("nickName", "addresses", "meta")}
        replaced = await client.put(f"{USERS}/{member}", json=put_body)
        # PATCH remove of one attribute.
        removed = await client.patch(
            f"{USERS}/{member}", json=patch({"op": "remove", "path": "name.middleName"})
        )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["externalId"] == "00u1okta"
    for key, value in EXTRAS.items():
        assert body[key] == value, (key, body.get(key))
    assert body["name"]["middleName"] == "Brewster" and body["name"]["honorificPrefix"] == "Dr."
    assert read["externalId"] == "00u1okta" and read["nickName"] == "Gracie"
    assert read["name"] == body["name"]
    assert [u["id"] for u in found["Resources"]] == [str(member)]
    assert other_case["totalResults"] == 0, "externalId is case-exact"
    assert sorted_by["Resources"][0]["id"] == str(member)
    assert replaced.status_code == 200, replaced.text
    assert "nickName" not in replaced.json() and "addresses" not in replaced.json()
    assert replaced.json()["x509Certificates"] == EXTRAS["x509Certificates"]
    assert removed.status_code == 200, removed.text
    assert "middleName" not in removed.json()["name"]
    external_id, attributes = await _record(user_api, tenant, member)
    assert external_id == "00u1okta" and "nickName" not in attributes
    assert attributes["name"] == {"honorificPrefix": "Dr."}


def _replace(path: str, value: Any) -> dict[str, Any]:
    return patch({"op": "replace", "path": path, "value": value})


#: (body, status, scimType) of PATCH /Users/{member}: refused, nothing written.
BAD: list[tuple[Any, int, str | None]] = [
    (_replace("nickName", "x" * 1_000_000), 413, None),
    (_replace("nickName", "x" * 200_000), 400, "invalidValue"),
    (_replace("nickName", "x" * 9000), 400, "invalidValue"),
    (_replace("externalId", "x" * 256), 400, "invalidValue"),
    (_replace("nickName", {"a": [[[[1]]]]}), 400, "invalidValue"),
    (_replace("addresses", [{"locality": {"deep": {"deeper": ["x"]}}}]), 400, "invalidValue"),
    (_replace("addresses", [{"unknownPart": "x"}]), 400, "invalidValue"),
    (_replace("addresses", [{"locality": f"town {i}"} for i in range(21)]), 400, "invalidValue"),
    (_replace("photos", [{"value": "not a url at all"}]), 400, "invalidValue"),
    (_replace("x509Certificates", [{"value": "x" * 40_000}]), 400, "invalidValue"),
    (_replace("userType", 5), 400, "invalidValue"),
]


async def test_bad_attributes_are_400s_and_write_nothing(user_api: UserApi) -> None:
    tenant = await scim_tenant(user_api)
    member = tenant.team.member
    async with scim_client(user_api, tenant.token) as client:
        seeded = await client.patch(f"{USERS}/{member}", json=_replace("nickName", "kept"))
        assert seeded.status_code == 200, seeded.text
        before = await _record(user_api, tenant, member)
        for body, status, scim_type in BAD:
            answer = await client.patch(f"{USERS}/{member}", json=body)
            assert_scim_error(answer, status, scim_type)
            assert len(answer.text) < 2000, "an error never echoes the value"
        invalid_utf8 = (
            b'{"schemas":["' + PATCH_OP.encode() + b'"],"Operations":[{"op":"add",'
            b'"path":"nickName","value":"\xff\xfe"}]}'
        )
        raw = await client.patch(
            f"{USERS}/{member}",
            content=invalid_utf8,
            headers={"content-type": "application/scim+json"},
        )
        assert 400 <= raw.status_code < 500, raw.text
    assert await _record(user_api, tenant, member) == before


async def test_an_external_id_is_one_members_and_one_tenants(user_api: UserApi) -> None:
    a = await scim_tenant(user_api, "A ")
    b = await scim_tenant(user_api, "B ")
    async with scim_client(user_api, a.token) as client:
        first = await client.patch(
            f"{USERS}/{a.team.member}", json=_replace("externalId", "ext-shared")
        )
        # Another member of A with the same externalId: 409, and nothing else of that
        # write is kept (the title neither).
        taken = await client.patch(
            f"{USERS}/{a.team.viewer}",
            json=patch(
                {"op": "replace", "path": "title", "value": "Changed"},
                {"op": "replace", "path": "externalId", "value": "ext-shared"},
            ),
        )
        viewer = (await client.get(f"{USERS}/{a.team.viewer}")).json()
    async with scim_client(user_api, b.token) as client:
        unseen = (await client.get(_filter('externalId eq "ext-shared"'))).json()
        # The same externalId in another tenant is that tenant's own.
        own = await client.patch(
            f"{USERS}/{b.team.member}", json=_replace("externalId", "ext-shared")
        )
        a_member = await client.get(f"{USERS}/{a.team.member}")
        present = (await client.get(_filter("externalId pr"))).json()
    assert first.status_code == 200, first.text
    assert_scim_error(taken, 409, "uniqueness")
    assert viewer.get("title") != "Changed" and "externalId" not in viewer
    assert unseen["totalResults"] == 0
    assert own.status_code == 200 and own.json()["externalId"] == "ext-shared", own.text
    assert_scim_error(a_member, 404)
    assert [u["id"] for u in present["Resources"]] == [str(b.team.member)]
