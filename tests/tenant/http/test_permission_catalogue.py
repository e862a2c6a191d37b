"""Every permission of the catalogue (workflows/tenant/permissions.py) has a test that a role
without it is refused. A caller holding every permission but one (a custom role) is refused
with 403 by each tenant route that needs the missing one, while the same call by a caller
holding all of them is not; permissions enforced by other services are listed with the test
that covers them there. A new permission must be added to one of the two tables."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tenant.http.tenant_api import TenantApi, seed_tenant
from workflows.tenant.permissions import ALL_PERMISSIONS, Permission


def _member(seeded: Any) -> str:
    return str(seeded.members["target"])


#: permission -> (method, path template, JSON body) of a tenant route that needs it.
TENANT_ROUTES: dict[Permission, tuple[str, str, Any]] = {
    Permission.TENANT_MANAGE: ("PATCH", "/tenants/{t}", {"name": "Renamed"}),
    Permission.MEMBERS_INVITE: (
        "POST",
        "/tenants/{t}/invitations",
        {"email": "new-person@example.com", "role": "viewer"},
    ),
    Permission.MEMBERS_MANAGE: ("PATCH", "/tenants/{t}/members/{m}", {"role": "viewer"}),
    Permission.ROLES_MANAGE: (
        "POST",
        "/tenants/{t}/roles",
        {"name": "auditor", "permissions": ["files.read"]},
    ),
    Permission.BILLING_MANAGE: ("POST", "/tenants/{t}/upgrade", {"plan": "team"}),
    Permission.DOMAINS_MANAGE: ("POST", "/tenants/{t}/domains", {"domain": "example.org"}),
    Permission.USERS_READ: ("GET", "/tenants/{t}/members", None),
}

#: Permissions other services enforce, with the tests that try to break them there.
ENFORCED_ELSEWHERE: dict[Permission, str] = {
    Permission.FILES_READ: "the file service (issue 10): not built yet, nothing reads files",
    Permission.FILES_WRITE: "the file service (issue 10): not built yet, nothing writes files",
    Permission.FILES_SHARE: "the file service (issue 10): not built yet, nothing shares files",
    Permission.WORKFLOWS_READ: "the workflow service's run management (tests/workflow/)",
    Permission.WORKFLOWS_MANAGE: "the workflow service's run management (tests/workflow/)",
}


def test_every_permission_is_classified() -> None:
    assert set(TENANT_ROUTES) | set(ENFORCED_ELSEWHERE) == ALL_PERMISSIONS
    assert not set(TENANT_ROUTES) & set(ENFORCED_ELSEWHERE)


@pytest.mark.parametrize("permission", sorted(TENANT_ROUTES), ids=str)
async def test_a_role_without_the_permission_is_refused(
    tenant_api: TenantApi, permission: Permission
) -> None:
    others = sorted(p.value for p in ALL_PERMISSIONS - {permission})
    seeded = await seed_tenant(
        tenant_api.database,
        roles={"lacking": "all-but-one", "holding": "everything", "target": "member"},
        custom_roles={
            "all-but-one": others,
            "everything": sorted(p.value for p in ALL_PERMISSIONS),
        },
        seat_quota=50,
    )
    method, template, body = TENANT_ROUTES[permission]
    path = template.format(t=seeded.id, m=_member(seeded))

    async with tenant_api.client(seeded.members["lacking"], seeded.id) as client:
        refused = await client.request(method, path, json=body)
    async with tenant_api.client(seeded.members["holding"], seeded.id) as client:
        allowed = await client.request(method, path, json=body)

    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "PermissionDenied"
    assert permission.value in refused.json()["detail"]
    # The same call with the permission is not refused for want of it (it may still fail later,
    # e.g. a workflow start without a worker, but never with 403).
    assert allowed.status_code != 403, allowed.text


async def test_a_member_of_another_tenant_holding_everything_is_refused(
    tenant_api: TenantApi,
) -> None:
    """Permissions are per tenant: everything in tenant A grants nothing in tenant B."""
    everything = sorted(p.value for p in ALL_PERMISSIONS)
    a = await seed_tenant(
        tenant_api.database, roles={"boss": "everything"}, custom_roles={"everything": everything}
    )
    b = await seed_tenant(tenant_api.database, roles={"target": "member"})
    for permission, (method, template, body) in TENANT_ROUTES.items():
        path = template.format(t=b.id, m=b.members["target"])
        async with tenant_api.client(a.members["boss"], a.id) as client:  # token for A
            answer = await client.request(method, path, json=body)
        assert answer.status_code in (403, 404), (permission, answer.text)
        async with tenant_api.client(a.members["boss"], b.id) as client:  # token for B
            answer = await client.request(method, path, json=body)
        assert answer.status_code == 404, (permission, answer.text)
