"""Tenant and member routes: the caller's tenants, reading and changing one, the paged member
list; token tenant and membership checks (services/tenant/access.py)."""

from __future__ import annotations

import uuid

from storage.db import transaction
from storage.tenants.repository import MembershipRepository
from tests.tenant.http.tenant_api import TenantApi, seed_tenant

PROBLEM = "application/problem+json"


async def test_my_tenants_lists_only_the_callers_across_tenants(tenant_api: TenantApi) -> None:
    a = await seed_tenant(tenant_api.database, roles={"bob": "member"})
    b = await seed_tenant(tenant_api.database)
    other = await seed_tenant(tenant_api.database)
    bob = a.members["bob"]
    # bob also belongs to b (as viewer): written straight, as provisioning would
    async with transaction(tenant_api.database, b.id) as db:
        await MembershipRepository(db, b.id).add_member(bob, "viewer")

    async with tenant_api.client(bob, a.id) as client:
        response = await client.get("/tenants")
    assert response.status_code == 200, response.text
    got = {item["id"]: item["my_role"] for item in response.json()}
    assert got == {str(a.id): "member", str(b.id): "viewer"}
    assert str(other.id) not in got


async def test_get_and_patch_tenant(tenant_api: TenantApi) -> None:
    t = await seed_tenant(tenant_api.database, roles={"admin": "admin", "member": "member"})
    async with tenant_api.client(t.owner, t.id) as client:
        one = await client.get(f"/tenants/{t.id}")
        assert one.status_code == 200, one.text
        assert one.json()["my_role"] == "owner" and one.json()["slug"] == t.slug
        changed = await client.patch(
            f"/tenants/{t.id}", json={"name": "  Acme Corp ", "settings": {"theme": "dark"}}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["name"] == "Acme Corp"
        assert changed.json()["settings"] == {"theme": "dark"}
    async with tenant_api.client(t.members["admin"], t.id) as client:
        assert (await client.patch(f"/tenants/{t.id}", json={"name": "B"})).status_code == 200
    async with tenant_api.client(t.members["member"], t.id) as client:
        refused = await client.patch(f"/tenants/{t.id}", json={"name": "C"})
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == PROBLEM
        assert refused.json()["code"] == "PermissionDenied"
        assert "tenant.manage" in refused.json()["detail"]
        assert (await client.get(f"/tenants/{t.id}")).json()["name"] == "B"


async def test_suspended_tenant_is_read_only(tenant_api: TenantApi) -> None:
    t = await seed_tenant(tenant_api.database, status="suspended")
    async with tenant_api.client(t.owner, t.id) as client:
        assert (await client.get(f"/tenants/{t.id}")).status_code == 200
        refused = await client.patch(f"/tenants/{t.id}", json={"name": "x"})
    assert refused.status_code == 409 and refused.json()["code"] == "TenantNotActive"


async def test_members_are_paged_in_a_stable_order_with_filters(tenant_api: TenantApi) -> None:
    roles = {f"m{i}": ("viewer" if i % 2 else "member") for i in range(7)}
    t = await seed_tenant(tenant_api.database, roles=roles, seat_quota=50)
    seen: list[str] = []
    async with tenant_api.client(t.owner, t.id) as client:
        after = None
        while True:
            params: dict[str, str | int] = {"first": 3}
            if after:
                params["after"] = after
            page = await client.get(f"/tenants/{t.id}/members", params=params)
            assert page.status_code == 200, page.text
            seen += [item["user_id"] for item in page.json()["items"]]
            after = page.json()["next_cursor"]
            if after is None:
                break
        viewers = await client.get(f"/tenants/{t.id}/members", params={"role": "viewer"})
        active = await client.get(f"/tenants/{t.id}/members", params={"status": "active"})
    assert len(seen) == 8 and len(set(seen)) == 8
    assert {str(t.owner), *map(str, t.members.values())} == set(seen)
    assert {item["role"] for item in viewers.json()["items"]} == {"viewer"}
    assert len(viewers.json()["items"]) == 3
    assert len(active.json()["items"]) == 8


async def test_members_need_users_read(tenant_api: TenantApi) -> None:
    t = await seed_tenant(
        tenant_api.database, roles={"blind": "blind"}, custom_roles={"blind": ["files.read"]}
    )
    async with tenant_api.client(t.members["blind"], t.id) as client:
        refused = await client.get(f"/tenants/{t.id}/members")
    assert refused.status_code == 403 and "users.read" in refused.json()["detail"]


async def test_bad_member_queries_are_4xx(tenant_api: TenantApi) -> None:
    t = await seed_tenant(tenant_api.database)
    async with tenant_api.client(t.owner, t.id) as client:
        for params in (
            {"first": 0},
            {"first": 101},
            {"first": "x"},
            {"after": "garbage"},
            {"after": "x" * 300},
            {"role": "NOT A ROLE"},
            {"status": "gone"},
        ):
            response = await client.get(f"/tenants/{t.id}/members", params=params)
            assert response.status_code == 422, (params, response.text)
            assert response.headers["content-type"] == PROBLEM


async def test_bad_tenant_input_is_4xx_and_changes_nothing(tenant_api: TenantApi) -> None:
    t = await seed_tenant(tenant_api.database)
    deep: dict[str, object] = {}
    node = deep
    for _ in range(10):
        node["a"] = {}
        node = node["a"]  # type: ignore[assignment]
    async with tenant_api.client(t.owner, t.id) as client:
        before = (await client.get(f"/tenants/{t.id}")).json()
        bodies: list[dict[str, object]] = [
            {"name": ""},
            {"name": "   "},
            {"name": "x" * 201},
            {"name": "a\x00b"},
            {"name": "bad\u202eeman"},
            {"name": 42},
            {"settings": []},
            {"settings": "x"},
            {"settings": deep},
            {"settings": {"k": "x" * 20000}},
            {"settings": {"k" * 101: 1}},
            {"unknown": 1},
        ]
        for body in bodies:
            response = await client.patch(f"/tenants/{t.id}", json=body)
            assert response.status_code == 422, (body, response.text)
            assert response.headers["content-type"] == PROBLEM
        not_utf8 = await client.patch(
            f"/tenants/{t.id}",
            content=b'{"name": "\xff\xfe"}',
            headers={"content-type": "application/json"},
        )
        assert 400 <= not_utf8.status_code < 500, not_utf8.text
        bad_id = await client.get("/tenants/not-a-uuid")
        assert bad_id.status_code == 422
        assert (await client.get(f"/tenants/{t.id}")).json() == before


async def test_unknown_tenant_and_non_member_look_alike(tenant_api: TenantApi) -> None:
    t = await seed_tenant(tenant_api.database)
    stranger = uuid.uuid4()
    unknown = uuid.uuid4()
    async with tenant_api.client(stranger, t.id) as client:
        not_member = await client.get(f"/tenants/{t.id}")
    async with tenant_api.client(stranger, unknown) as client:
        no_tenant = await client.get(f"/tenants/{unknown}")
    assert not_member.status_code == no_tenant.status_code == 404
    assert not_member.json()["code"] == no_tenant.json()["code"]
