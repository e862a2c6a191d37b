"""Role routes: built-in and custom roles, the catalogue check, no grant beyond one's own, in-use
roles kept, the per-tenant limit."""

from __future__ import annotations

from storage.db import transaction
from storage.tenants.models import Role
from storage.tenants.repository import RoleRepository
from tests.tenant.http.tenant_api import TenantApi, seed_tenant
from workflows.tenant.permissions import MAX_CUSTOM_ROLES


async def test_custom_role_lifecycle(tenant_api: TenantApi) -> None:
    t = await seed_tenant(tenant_api.database, roles={"viewer": "viewer"})
    async with tenant_api.client(t.owner, t.id) as client:
        created = await client.post(
            f"/tenants/{t.id}/roles",
            json={"name": "auditor", "description": "reads", "permissions": ["files.read"]},
        )
        assert created.status_code == 201, created.text
        assert created.json() == {
            "name": "auditor",
            "description": "reads",
            "permissions": ["files.read"],
            "built_in": False,
        }
        again = await client.post(
            f"/tenants/{t.id}/roles", json={"name": "auditor", "permissions": []}
        )
        assert again.status_code == 409 and again.json()["code"] == "RoleExists"
        changed = await client.patch(
            f"/tenants/{t.id}/roles/auditor",
            json={"permissions": ["files.read", "workflows.read"]},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["permissions"] == ["files.read", "workflows.read"]
        listed = await client.get(f"/tenants/{t.id}/roles")
        names = [(r["name"], r["built_in"]) for r in listed.json()]
        assert names[:4] == [("owner", True), ("admin", True), ("member", True), ("viewer", True)]
        assert ("auditor", False) in names
        deleted = await client.delete(f"/tenants/{t.id}/roles/auditor")
        assert deleted.status_code == 204
        assert (await client.delete(f"/tenants/{t.id}/roles/auditor")).status_code == 404
    async with tenant_api.client(t.members["viewer"], t.id) as client:
        assert (await client.get(f"/tenants/{t.id}/roles")).status_code == 200


async def test_role_rules(tenant_api: TenantApi) -> None:
    t = await seed_tenant(
        tenant_api.database,
        roles={"admin": "admin", "held": "custom-held"},
        custom_roles={"custom-held": ["files.read"]},
    )
    async with tenant_api.client(t.members["admin"], t.id) as client:
        unknown = await client.post(
            f"/tenants/{t.id}/roles", json={"name": "x-role", "permissions": ["files.nuke"]}
        )
        assert unknown.status_code == 422 and "files.nuke" in unknown.json()["detail"]
        beyond = await client.post(
            f"/tenants/{t.id}/roles", json={"name": "payer", "permissions": ["billing.manage"]}
        )
        assert beyond.status_code == 403 and beyond.json()["code"] == "GrantExceedsOwn"
        assert "billing.manage" in beyond.json()["detail"]
        built_in = await client.post(
            f"/tenants/{t.id}/roles", json={"name": "owner", "permissions": []}
        )
        assert built_in.status_code == 422
        change_built_in = await client.patch(
            f"/tenants/{t.id}/roles/admin", json={"permissions": []}
        )
        assert change_built_in.status_code == 422
        in_use = await client.delete(f"/tenants/{t.id}/roles/custom-held")
        assert in_use.status_code == 409 and in_use.json()["code"] == "RoleInUse"


async def test_at_most_max_custom_roles(tenant_api: TenantApi) -> None:
    t = await seed_tenant(tenant_api.database)
    async with transaction(tenant_api.database, t.id) as db:
        for i in range(MAX_CUSTOM_ROLES):
            await RoleRepository(db, t.id).add(Role(name=f"r-{i:02d}", permissions=[]))
    async with tenant_api.client(t.owner, t.id) as client:
        refused = await client.post(
            f"/tenants/{t.id}/roles", json={"name": "one-more", "permissions": []}
        )
    assert refused.status_code == 422 and str(MAX_CUSTOM_ROLES) in refused.json()["detail"]


async def test_roles_manage_is_needed_for_writes(tenant_api: TenantApi) -> None:
    t = await seed_tenant(
        tenant_api.database,
        roles={"member": "member", "custom": "custom-a"},
        custom_roles={"custom-a": ["files.read"]},
    )
    async with tenant_api.client(t.members["member"], t.id) as client:
        for response in (
            await client.post(f"/tenants/{t.id}/roles", json={"name": "abc", "permissions": []}),
            await client.patch(f"/tenants/{t.id}/roles/custom-a", json={"description": "x"}),
            await client.delete(f"/tenants/{t.id}/roles/custom-a"),
        ):
            assert response.status_code == 403, response.text
            assert "roles.manage" in response.json()["detail"]


async def test_bad_role_input(tenant_api: TenantApi) -> None:
    t = await seed_tenant(tenant_api.database)
    async with tenant_api.client(t.owner, t.id) as client:
        for body in (
            {"name": "A", "permissions": []},
            {"name": "x" * 41, "permissions": []},
            {"name": "ok-name", "permissions": "files.read"},
            {"name": "ok-name", "permissions": ["x" * 100]},
            {"name": "ok-name", "permissions": ["files.read"] * 65},
            {"name": "ok-name", "permissions": [], "description": "a\x00b"},
            {"name": "ok-name", "permissions": [], "description": "x" * 501},
            {"name": "ok-name"},
            {"name": 5, "permissions": []},
        ):
            response = await client.post(f"/tenants/{t.id}/roles", json=body)
            assert response.status_code == 422, (body, response.text)
        bad_path = await client.patch(f"/tenants/{t.id}/roles/NOPE!", json={})
        assert bad_path.status_code == 422
        assert len((await client.get(f"/tenants/{t.id}/roles")).json()) == 4
