"""Helpers of the tenant GraphQL tests: members seeded straight into the auth and tenant tables
(credentials, claims with the role's permissions, the tenant and its memberships)."""

from __future__ import annotations

import uuid
from typing import Any

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from storage.auth.claims import ClaimsRepository
from storage.db import transaction
from storage.tenants.models import Tenant
from storage.tenants.repository import MembershipRepository, TenantRepository
from tests.auth.users import AuthUser, create_user
from tests.graphql_client import gql
from workflows.tenant.permissions import built_in_permissions
from workflows.tenant.plans import GIB

LOGIN = """mutation($input: LoginInput!) {
  login(input: $input) { tokens { accessToken refreshToken sessionId } }
}"""
SWITCH = """mutation($id: ID!) {
  switchTenant(tenantId: $id) { accessToken tenantId roles permissions sessionId workflowId }
}"""
TENANT = "query($id: ID!) { tenant(id: $id) { id slug name status plan myRole settings } }"
MEMBERS = """query($id: ID!, $first: Int!, $after: String) {
  members(tenantId: $id, first: $first, after: $after) {
    edges { cursor node { userId role status joinedAt } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def seed_tenant(
    auth: AuthRuntime, tenants: Resources, members: list[tuple[AuthUser, str]]
) -> uuid.UUID:
    """An active tenant with ``members`` (user -> built-in role), their claims synced."""
    tenant_id = uuid.uuid4()
    owner = next(u for u, r in members if r == "owner")
    async with transaction(tenants.database, tenant_id) as db:
        await TenantRepository(db).add(
            Tenant(
                id=tenant_id,
                slug=f"g-{tenant_id.hex[:12]}",
                name=f"GraphQL {tenant_id.hex[:6]}",
                status="active",
                plan="free",
                seat_quota=5,
                storage_quota_bytes=GIB,
                settings={},
                created_by=owner.id,
                idempotency_key=f"test:{tenant_id}",
            )
        )
        repository = MembershipRepository(db, tenant_id)
        for user, role in members:
            await repository.add_member(user.id, role)
    async with transaction(auth.resources.database) as db:
        for user, role in members:
            permissions = sorted(built_in_permissions(role) or ())
            await ClaimsRepository(db).put(user.id, tenant_id, [role], permissions)
    return tenant_id


async def new_user(auth: AuthRuntime) -> AuthUser:
    return await create_user(auth)


async def login(url: str, user: AuthUser, tenant_id: uuid.UUID | None) -> dict[str, Any]:
    variables = {
        "input": {
            "email": user.email,
            "password": user.password,
            "tenantId": str(tenant_id) if tenant_id else None,
        }
    }
    body = await gql(url, LOGIN, variables)
    assert not body.get("errors"), body
    return body["data"]["login"]["tokens"]  # type: ignore[no-any-return]


def code_of(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or []
    return errors[0].get("extensions", {}).get("code") if errors else None
