"""Tenant rows over HTTP. Direct (no workflow): reading the caller's tenants and renaming or
changing the settings of one are this service's own writes, in one transaction. Which tenant a
route acts on, and who may: ``services/tenant/access.py``."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.tenant_db import TenantDb
from services.tenant.access import caller_id, member_access, require_permission
from services.tenant.schemas import TenantOut, UpdateTenantRequest
from storage.tenants.models import Tenant
from storage.tenants.repository import TenantRepository
from workflows.tenant.permissions import Permission

Responses = dict[int | str, dict[str, Any]]
router = APIRouter(prefix="/tenants", tags=["tenants"])  # authenticated app-wide (create_app)

REFUSED: Responses = {
    403: problem_response(403, "A token for another tenant, or a missing permission"),
    404: problem_response(404, "No such tenant, or the caller is not a member"),
}


def tenant_out(row: Tenant, my_role: str | None) -> TenantOut:
    return TenantOut(
        id=row.id,
        slug=row.slug,
        name=row.name,
        status=row.status,
        plan=row.plan,
        seat_quota=row.seat_quota,
        storage_quota_bytes=row.storage_quota_bytes,
        settings=row.settings,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        my_role=my_role,
    )


@router.get("")
async def my_tenants(principal: PrincipalDep, db: TenantDb) -> list[TenantOut]:
    """Every tenant the caller belongs to, whichever their token is for (the own-rows policy
    shows only those), by name."""
    user_id = caller_id(principal)
    if user_id is None:
        return []
    rows = await TenantRepository(db).of_user(user_id)
    return [tenant_out(tenant, role) for tenant, role in rows if tenant.status != "deleted"]


@router.get("/{tenant_id}", responses=REFUSED)
async def get_tenant(tenant_id: uuid.UUID, principal: PrincipalDep, db: TenantDb) -> TenantOut:
    access = await member_access(db, principal, tenant_id)
    return tenant_out(access.tenant, access.role)


@router.patch("/{tenant_id}", responses={**REFUSED, 409: problem_response(409, "Not active")})
async def update_tenant(
    tenant_id: uuid.UUID, body: UpdateTenantRequest, principal: PrincipalDep, db: TenantDb
) -> TenantOut:
    """Rename the tenant or replace its settings (``tenant.manage``)."""
    access = await require_permission(db, principal, tenant_id, Permission.TENANT_MANAGE)
    tenant = await TenantRepository(db).update(
        access.tenant, name=body.name, settings=body.settings
    )
    return tenant_out(tenant, access.role)
