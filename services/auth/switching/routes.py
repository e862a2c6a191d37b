"""Tenant switching: direct (no workflow) for the switch itself, which is one statement of the
auth service's own (the session's tenant) and answers with new tokens at once; the bookkeeping
across services (``tenant_switching`` on ``adx-tenant``) is started after the answer, at most once
per session per second (``bookkeeping.py`` merges the switches in between into one run)."""

from __future__ import annotations

from fastapi import APIRouter

from services.auth.dependencies import ClientDep, RuntimeDep
from services.auth.schemas import SwitchTenantRequest, TenantSwitch
from services.auth.switching.switch import bookkeeping_for, switch_tenant
from services.common.openapi import problems
from services.common.principal import PrincipalDep

router = APIRouter(tags=["auth"])


@router.post(
    "/auth/switch-tenant",
    responses=problems(
        {401: "Not authenticated", 403: "Not a member of the tenant (or no such tenant)"}
    ),
)
async def switch_tenant_route(
    body: SwitchTenantRequest,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    client: ClientDep,
) -> TenantSwitch:
    switched = await switch_tenant(runtime, principal, body.tenant_id, client)
    workflow_id = bookkeeping_for(runtime).note(switched.bookkeeping, switched.roles)
    return TenantSwitch(
        access_token=switched.access_token,
        expires_in=switched.expires_in,
        session_id=switched.session_id,
        tenant_id=switched.tenant_id,
        roles=switched.roles,
        permissions=switched.permissions,
        workflow_id=workflow_id,
    )
