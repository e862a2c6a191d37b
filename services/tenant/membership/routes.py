"""Membership changes over HTTP: each starts ``membership_change`` (the tenant's rows, then
auth's claims and sessions, with compensation) and answers 202 with the run's id. The caller's
permission is checked here first (``services/tenant/access.py``) and again, against the rows, by
the workflow's first step."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from services.common.app import ResourcesDep
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.tenant_db import TenantDb
from services.tenant.access import caller_id, member_access, require_owner, require_permission
from services.tenant.errors import tenant_error
from services.tenant.invitations.tokens import parse_token
from services.tenant.schemas import (
    ChangeRoleRequest,
    InvitationTokenRequest,
    TransferOwnershipRequest,
    WorkflowStarted,
)
from services.tenant.starts import start
from storage.db import DbSession
from storage.tenants.repository import MembershipRepository
from workflows.tenant.contracts import TenantError
from workflows.tenant.membership_change import (
    MembershipChangeInput,
    MembershipChangeWorkflow,
    membership_change_workflow_id,
)
from workflows.tenant.membership_contracts import MembershipChangeKind
from workflows.tenant.permissions import Permission

router = APIRouter(tags=["members"])
BUSY = "a change of this member is in progress; try again when it is done"
REFUSED: dict[int | str, dict[str, Any]] = {
    403: problem_response(403, "A token for another tenant, or a missing permission"),
    404: problem_response(404, "No such tenant, or the caller is not a member"),
    409: problem_response(409, "The tenant is not active, or a change is in progress"),
}


async def _start(
    resources: ResourcesDep,
    principal: PrincipalDep,
    kind: MembershipChangeKind,
    tenant_id: uuid.UUID,
    member_id: uuid.UUID,
    **fields: Any,
) -> WorkflowStarted:
    return await start(
        resources,
        principal,
        MembershipChangeWorkflow.run,
        MembershipChangeInput(
            tenant_id=str(tenant_id), kind=kind.value, actor_id=principal.user_id, **fields
        ),
        workflow_id=membership_change_workflow_id(kind.value, str(tenant_id), str(member_id)),
        busy=BUSY,
    )


@router.post(
    "/invitations/accept",
    status_code=202,
    responses={
        400: problem_response(400, "Invalid or expired invitation"),
        409: problem_response(409, "A change of this member is in progress"),
    },
)
async def accept_invitation(
    body: InvitationTokenRequest, principal: PrincipalDep, resources: ResourcesDep
) -> WorkflowStarted:
    """Join a tenant by the mailed token; the run checks that the caller is the invited address
    (through auth, which owns addresses). Only the token's digest enters the workflow."""
    token = parse_token(body.token)
    user_id = caller_id(principal)
    if token is None or user_id is None:
        raise tenant_error(TenantError.INVALID_INVITATION, "invalid or expired invitation")
    return await _start(
        resources,
        principal,
        MembershipChangeKind.ACCEPT_INVITATION,
        token.tenant_id,
        user_id,
        invitation_token_hash=token.digest,
    )


async def _require_member(db: DbSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """The change's target is a member of this tenant: 404 before any run starts otherwise (a
    user id from another tenant, or none, never reaches a workflow)."""
    if await MembershipRepository(db, tenant_id).of_user(user_id) is None:
        raise tenant_error(TenantError.MEMBER_NOT_FOUND, f"user {user_id} is not a member")


@router.patch("/tenants/{tenant_id}/members/{user_id}", status_code=202, responses=REFUSED)
async def change_role(
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    body: ChangeRoleRequest,
    principal: PrincipalDep,
    db: TenantDb,
    resources: ResourcesDep,
) -> WorkflowStarted:
    """``members.manage``; the last owner stays owner, nobody grants beyond their own
    permissions, only an owner makes an owner."""
    await require_permission(db, principal, tenant_id, Permission.MEMBERS_MANAGE)
    await _require_member(db, tenant_id, user_id)
    return await _start(
        resources,
        principal,
        MembershipChangeKind.CHANGE_ROLE,
        tenant_id,
        user_id,
        user_id=str(user_id),
        role=body.role,
    )


@router.delete("/tenants/{tenant_id}/members/{user_id}", status_code=202, responses=REFUSED)
async def remove_member(
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    principal: PrincipalDep,
    db: TenantDb,
    resources: ResourcesDep,
) -> WorkflowStarted:
    """Remove a member (``members.manage``), or leave when it is oneself; their sessions in the
    tenant end at once. The last owner can do neither."""
    leaving = caller_id(principal) == user_id
    if leaving:
        await member_access(db, principal, tenant_id, write=True)
    else:
        await require_permission(db, principal, tenant_id, Permission.MEMBERS_MANAGE)
        await _require_member(db, tenant_id, user_id)
    kind = MembershipChangeKind.LEAVE if leaving else MembershipChangeKind.REMOVE
    return await _start(resources, principal, kind, tenant_id, user_id, user_id=str(user_id))


@router.post("/tenants/{tenant_id}/transfer-ownership", status_code=202, responses=REFUSED)
async def transfer_ownership(
    tenant_id: uuid.UUID,
    body: TransferOwnershipRequest,
    principal: PrincipalDep,
    db: TenantDb,
    resources: ResourcesDep,
) -> WorkflowStarted:
    """Owners only: the new owner becomes owner, the caller an admin."""
    await require_owner(db, principal, tenant_id, "transfer ownership")
    await _require_member(db, tenant_id, body.new_owner_id)
    return await _start(
        resources,
        principal,
        MembershipChangeKind.TRANSFER_OWNERSHIP,
        tenant_id,
        body.new_owner_id,
        user_id=str(body.new_owner_id),
    )
