"""Tenant operations. Routing (rule: a mutation starts a workflow only when it spans services or
steps):

- queries (``tenants``, ``tenant``, ``members``, ``invitations``) call the tenant service
  directly, which checks the caller's permission in their active tenant (the token's ``tid``);
- ``createTenant``, ``acceptInvitation``, ``changeMemberRole``, ``removeMember``,
  ``transferOwnership``, ``upgradeTenant``, ``suspendTenant``, ``resumeTenant`` and
  ``deleteTenant`` span services (claims in auth, billing, storage): the tenant service's route
  checks the caller and starts the workflow, and the answer is its ``WorkflowRun`` (with the
  run's access token, for ``workflowProgress``);
- ``inviteMember``, ``declineInvitation`` and ``revokeInvitation`` are the tenant service's own
  writes, direct;
- ``switchTenant`` is auth's own write (the session's tenant), direct and answered with the new
  token at once; the auth route starts the ``tenant_switching`` bookkeeping after answering.

Ids are checked here before they become part of a path, so a hostile one is a
``BAD_USER_INPUT`` and never reaches the service (nor opens its circuit)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from resolvers.workflow_runs import started_run
from schema.errors import BAD_USER_INPUT, UserFacingError
from schema.pagination import MAX_PAGE
from schema.tenants import (
    CreateTenantInput,
    Invitation,
    InviteMemberInput,
    MemberConnection,
    Tenant,
    TenantSwitch,
    member_connection,
    uuid_arg,
)
from schema.workflow_runs import WorkflowRun
from services.auth.schemas import TenantSwitch as TenantSwitchOut
from services.common.settings import ServiceName
from services.tenant.schemas import InvitationOut, TenantOut, WorkflowStarted

if TYPE_CHECKING:
    from gateway.context import GatewayContext
    from gateway.service_clients import ServiceCall

#: The tenant service's own limits, checked before a value becomes part of a URL.
MAX_SHORT_TEXT = 64


_uuid = uuid_arg


def _short(raw: str, what: str) -> str:
    if not 0 < len(raw) <= MAX_SHORT_TEXT:
        raise UserFacingError(f"{what} must be 1-{MAX_SHORT_TEXT} characters", BAD_USER_INPUT)
    return raw


def _tenants(info: strawberry.Info[GatewayContext]) -> ServiceCall:
    return info.context.service(ServiceName.tenant, signed_in=True)


async def _started(
    info: strawberry.Info[GatewayContext], method: str, path: str, body: Any = None
) -> WorkflowRun:
    """Forward a write that starts a workflow; answer its run (``started_run``)."""
    return await started_run(
        info, ServiceName.tenant, method, path, body=body, response=WorkflowStarted
    )


# -- queries -------------------------------------------------------------------------------------


async def resolve_tenants(info: strawberry.Info[GatewayContext]) -> list[Tenant]:
    rows = await _tenants(info).call("GET", "/tenants", response=list[TenantOut])
    return [Tenant(**row.model_dump()) for row in rows]


async def resolve_tenant(info: strawberry.Info[GatewayContext], id: strawberry.ID) -> Tenant:
    path = f"/tenants/{_uuid(id, 'tenant id')}"
    return Tenant(**(await _tenants(info).call("GET", path, response=TenantOut)).model_dump())


async def resolve_members(
    info: strawberry.Info[GatewayContext],
    tenant_id: strawberry.ID,
    first: Annotated[int, strawberry.argument(description=f"1-{MAX_PAGE}")] = 50,
    after: str | None = None,
) -> MemberConnection:
    """Through the request's ``member_pages`` loader, like ``Tenant.members``."""
    return await member_connection(info, tenant_id, first, after)


async def resolve_invitations(
    info: strawberry.Info[GatewayContext], tenant_id: strawberry.ID, status: str | None = None
) -> list[Invitation]:
    params = {"status": _short(status, "status")} if status is not None else None
    rows = await _tenants(info).call(
        "GET",
        f"/tenants/{_uuid(tenant_id, 'tenant id')}/invitations",
        params=params,
        response=list[InvitationOut],
    )
    return [Invitation(**row.model_dump()) for row in rows]


# -- mutations -----------------------------------------------------------------------------------


async def resolve_create_tenant(
    info: strawberry.Info[GatewayContext], input: CreateTenantInput
) -> WorkflowRun:
    body = {"slug": input.slug, "name": input.name, "plan": input.plan}
    return await _started(info, "POST", "/tenants", body)


async def resolve_invite_member(
    info: strawberry.Info[GatewayContext], input: InviteMemberInput
) -> Invitation:
    row = await _tenants(info).call(
        "POST",
        f"/tenants/{_uuid(input.tenant_id, 'tenant id')}/invitations",
        json={"email": input.email, "role": input.role},
        response=InvitationOut,
    )
    return Invitation(**row.model_dump())


async def resolve_accept_invitation(
    info: strawberry.Info[GatewayContext], token: str
) -> WorkflowRun:
    return await _started(info, "POST", "/invitations/accept", {"token": token})


async def resolve_decline_invitation(info: strawberry.Info[GatewayContext], token: str) -> bool:
    await _tenants(info).send("POST", "/invitations/decline", json={"token": token})
    return True


async def resolve_revoke_invitation(
    info: strawberry.Info[GatewayContext], tenant_id: strawberry.ID, invitation_id: strawberry.ID
) -> bool:
    tenant, invitation = _uuid(tenant_id, "tenant id"), _uuid(invitation_id, "invitation id")
    await _tenants(info).send("DELETE", f"/tenants/{tenant}/invitations/{invitation}")
    return True


def _member_path(tenant_id: str, user_id: str) -> str:
    return f"/tenants/{_uuid(tenant_id, 'tenant id')}/members/{_uuid(user_id, 'user id')}"


async def resolve_change_member_role(
    info: strawberry.Info[GatewayContext],
    tenant_id: strawberry.ID,
    user_id: strawberry.ID,
    role: str,
) -> WorkflowRun:
    return await _started(info, "PATCH", _member_path(tenant_id, user_id), {"role": role})


async def resolve_remove_member(
    info: strawberry.Info[GatewayContext], tenant_id: strawberry.ID, user_id: strawberry.ID
) -> WorkflowRun:
    return await _started(info, "DELETE", _member_path(tenant_id, user_id))


async def resolve_transfer_ownership(
    info: strawberry.Info[GatewayContext], tenant_id: strawberry.ID, new_owner_id: strawberry.ID
) -> WorkflowRun:
    path = f"/tenants/{_uuid(tenant_id, 'tenant id')}/transfer-ownership"
    return await _started(info, "POST", path, {"new_owner_id": _uuid(new_owner_id, "user id")})


async def resolve_upgrade_tenant(
    info: strawberry.Info[GatewayContext], tenant_id: strawberry.ID, plan: str
) -> WorkflowRun:
    path = f"/tenants/{_uuid(tenant_id, 'tenant id')}/upgrade"
    return await _started(info, "POST", path, {"plan": plan})


async def resolve_suspend_tenant(
    info: strawberry.Info[GatewayContext], tenant_id: strawberry.ID
) -> WorkflowRun:
    return await _started(info, "POST", f"/tenants/{_uuid(tenant_id, 'tenant id')}/suspend", {})


async def resolve_resume_tenant(
    info: strawberry.Info[GatewayContext], tenant_id: strawberry.ID
) -> WorkflowRun:
    return await _started(info, "POST", f"/tenants/{_uuid(tenant_id, 'tenant id')}/resume", {})


async def resolve_delete_tenant(
    info: strawberry.Info[GatewayContext], tenant_id: strawberry.ID
) -> WorkflowRun:
    return await _started(info, "POST", f"/tenants/{_uuid(tenant_id, 'tenant id')}/delete", {})


async def resolve_switch_tenant(
    info: strawberry.Info[GatewayContext], tenant_id: strawberry.ID
) -> TenantSwitch:
    """Immediate: the answer carries the new access token (see the module docstring)."""
    switched = await info.context.service(ServiceName.auth, signed_in=True).call(
        "POST",
        "/auth/switch-tenant",
        json={"tenant_id": _uuid(tenant_id, "tenant id")},
        response=TenantSwitchOut,
    )
    return TenantSwitch(**switched.model_dump())
