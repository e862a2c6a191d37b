"""Cross-tenant matrix: for every tenant route of the app (enumerated, so a route added later is
covered or fails here), a member of tenant A never reads or changes tenant B:

- A's token with B's ids: 403 before any row is read (services/tenant/access.py);
- a token for B held by someone who is not B's member: 404, as for an unknown tenant;
- A's token and A's path with B's sub-resource ids (invitation, role, domain): 404;

and B's rows are unchanged afterwards."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from services.common.principal import route_operations
from storage.db import transaction
from storage.tenants.models import Domain, Invitation, Membership, Role, Tenant
from tests.tenant.http.tenant_api import TenantApi, seed_tenant

BODIES: dict[tuple[str, str], object] = {
    ("PATCH", "/tenants/{tenant_id}"): {"name": "hijacked"},
    ("POST", "/tenants/{tenant_id}/roles"): {"name": "evil-role", "permissions": []},
    ("PATCH", "/tenants/{tenant_id}/roles/{name}"): {"description": "hijacked"},
    ("POST", "/tenants/{tenant_id}/invitations"): {"email": "evil@example.com"},
    ("POST", "/tenants/{tenant_id}/domains"): {"domain": "evil.example.com"},
    ("PUT", "/tenants/{tenant_id}/domains/{domain}/auto-join"): {"role": "member"},
    ("PATCH", "/tenants/{tenant_id}/members/{user_id}"): {"role": "viewer"},
    ("POST", "/tenants/{tenant_id}/transfer-ownership"): {"new_owner_id": str(uuid.uuid4())},
    ("POST", "/tenants/{tenant_id}/upgrade"): {"plan": "team"},
}


#: Routes that check the caller's own membership row instead of the token's tenant (a suspended
#: tenant's members hold no token into it): a non-member gets 404, as for an unknown tenant.
OWN_MEMBERSHIP_ROUTES = {"/tenants/{tenant_id}/resume", "/tenants/{tenant_id}/delete"}


def tenant_routes(api: TenantApi) -> list[tuple[str, str]]:
    return sorted(
        (method, path)
        for _, method, path in route_operations(api.app)
        if path.startswith("/tenants/{tenant_id}")
    )


async def _snapshot(api: TenantApi, tenant_id: uuid.UUID) -> list[object]:
    async with transaction(api.database, tenant_id) as db:
        out: list[object] = []
        for model in (Tenant, Membership, Role, Invitation, Domain):
            rows = await db.scalars(select(model))
            out.append(
                sorted(
                    repr({c.key: getattr(r, c.key) for c in model.__table__.columns}) for r in rows
                )
            )
        return out


@pytest.fixture
async def two_tenants(tenant_api: TenantApi) -> tuple[object, object, dict[str, str]]:
    a = await seed_tenant(tenant_api.database, roles={"admin": "admin"})
    b = await seed_tenant(tenant_api.database, custom_roles={"b-role": ["files.read"]})
    async with tenant_api.client(b.owner, b.id) as client:
        invitation = await client.post(
            f"/tenants/{b.id}/invitations", json={"email": "b-secret@example.com"}
        )
        domain = await client.post(f"/tenants/{b.id}/domains", json={"domain": "b-corp.example"})
    assert invitation.status_code == 201 and domain.status_code == 201
    ids = {
        "invitation_id": invitation.json()["id"],
        "name": "b-role",
        "domain": "b-corp.example",
        "user_id": str(b.owner),
    }
    return a, b, ids


def _fill(path: str, tenant_id: uuid.UUID, ids: dict[str, str]) -> str:
    values = {"tenant_id": str(tenant_id), **ids}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


async def test_every_tenant_route_is_in_the_matrix(tenant_api: TenantApi) -> None:
    routes = tenant_routes(tenant_api)
    assert len(routes) >= 15, routes
    for key in BODIES:
        assert key in routes


async def test_a_token_for_a_never_reaches_b(tenant_api: TenantApi, two_tenants) -> None:  # type: ignore[no-untyped-def]
    a, b, ids = two_tenants
    before = await _snapshot(tenant_api, b.id)
    for user in (a.owner, a.members["admin"]):
        async with tenant_api.client(user, a.id) as client:
            for method, path in tenant_routes(tenant_api):
                response = await client.request(
                    method, _fill(path, b.id, ids), json=BODIES.get((method, path))
                )
                if path in OWN_MEMBERSHIP_ROUTES:  # no token into a suspended tenant needed
                    assert response.status_code == 404, (method, path, response.text)
                    assert response.json()["code"] == "NotAMember"
                else:
                    assert response.status_code == 403, (method, path, response.text)
                    assert response.json()["code"] == "PermissionDenied"
                assert "b-secret" not in response.text and "b-corp" not in response.text
    # a token naming B, held by A's owner (not B's member): B looks like no tenant at all
    async with tenant_api.client(a.owner, b.id) as client:
        for method, path in tenant_routes(tenant_api):
            response = await client.request(
                method, _fill(path, b.id, ids), json=BODIES.get((method, path))
            )
            assert response.status_code == 404, (method, path, response.text)
            assert "b-secret" not in response.text
        mine = await client.get("/tenants")
        assert str(b.id) not in mine.text
    assert await _snapshot(tenant_api, b.id) == before


async def test_bs_sub_resources_under_as_path_are_not_found(
    tenant_api: TenantApi, two_tenants
) -> None:  # type: ignore[no-untyped-def]
    a, b, ids = two_tenants
    before = await _snapshot(tenant_api, b.id)
    async with tenant_api.client(a.owner, a.id) as client:
        for method, path in tenant_routes(tenant_api):
            if not re.search(r"\{(invitation_id|name|domain|user_id)\}", path):
                continue
            response = await client.request(
                method, _fill(path, a.id, ids), json=BODIES.get((method, path))
            )
            assert response.status_code == 404, (method, path, response.text)
        listed = await client.get(f"/tenants/{a.id}/invitations")
        assert "b-secret" not in listed.text
    assert await _snapshot(tenant_api, b.id) == before
