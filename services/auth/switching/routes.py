"""Tenant switching: direct (no workflow) for the switch itself, which is one statement of the
auth service's own (the session's tenant) and answers with new tokens at once; the bookkeeping
across services (``tenant_switching`` on ``adx-tenant``) is started after the answer."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks

from services.auth.dependencies import ClientDep, RuntimeDep
from services.auth.schemas import SwitchTenantRequest, TenantSwitch
from services.auth.switching.switch import start_bookkeeping, switch_tenant
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
    background: BackgroundTasks,
) -> TenantSwitch:
    switched = await switch_tenant(runtime, principal, body.tenant_id, client)
    background.add_task(start_bookkeeping, runtime, switched)
    return TenantSwitch(
        access_token=switched.access_token,
        expires_in=switched.expires_in,
        session_id=switched.session_id,
        tenant_id=switched.tenant_id,
        roles=switched.roles,
        permissions=switched.permissions,
        workflow_id=switched.workflow_id,
    )
