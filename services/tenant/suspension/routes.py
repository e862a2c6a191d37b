"""Suspension over HTTP: suspend, resume and delete each reach ``tenant_suspension`` (claims in
auth, members mailed, a grace period, export and erasure across services) and answer 202 with
the run's id.

A suspended tenant's members hold no claims, so nobody has a token into it: resuming and
deleting check the caller's own membership row instead (visible in every tenant through the
own-memberships policy), and its role's permissions: built-in, or a custom role read under the
tenant's own RLS scope (``own_permissions`` in ``services/tenant/access.py``). A resume while a deletion waits out its grace
period sends that run the ``cancel_deletion`` update, which cancels the deletion (the tenant
returns to the status it had before it: active, or still suspended); once the grace period is
over the run rejects it and the answer is 409 ``TenantNotActive``."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from fastapi import APIRouter
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from services.common import workflow_calls
from services.common.app import ResourcesDep
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.tenant_db import TenantDb
from services.common.tokens import Principal
from services.tenant.access import caller_id, own_permissions, require_permission
from services.tenant.errors import tenant_error
from services.tenant.schemas import WorkflowStarted
from services.tenant.starts import errors, start
from storage.db import DbSession
from storage.tenants.repository import MembershipRepository
from workflows.tenant.contracts import TenantError
from workflows.tenant.permissions import BuiltInRole, Permission
from workflows.tenant.tenant_suspension import (
    CANCEL_DELETION_UPDATE,
    SuspensionAction,
    TenantSuspensionInput,
    TenantSuspensionWorkflow,
    tenant_deletion_workflow_id,
    tenant_suspension_workflow_id,
)

#: How long the deletion run gets to accept or reject the cancellation (503 after it).
UPDATE_ANSWER_SECONDS = 10.0
router = APIRouter(prefix="/tenants/{tenant_id}", tags=["tenants"])
BUSY = "a suspension or resumption of this tenant is in progress"
REFUSED: dict[int | str, dict[str, Any]] = {
    403: problem_response(403, "A missing permission, or not an owner"),
    404: problem_response(404, "No such tenant, or the caller is not a member"),
    409: problem_response(409, "The tenant is not in a state for this, or a run is in progress"),
}


async def _own_role(db: DbSession, principal: Principal, tenant_id: uuid.UUID) -> str:
    """The caller's role in ``tenant_id`` from their own membership row (any status)."""
    user_id = caller_id(principal)
    row = await MembershipRepository(db, tenant_id).of_user(user_id) if user_id else None
    if row is None:
        raise tenant_error(TenantError.NOT_A_MEMBER, f"tenant {tenant_id} not found")
    return row.role


def _input(
    tenant_id: uuid.UUID, principal: Principal, action: SuspensionAction, grace: float
) -> TenantSuspensionInput:
    return TenantSuspensionInput(str(tenant_id), action.value, principal.user_id, grace)


@router.post("/suspend", status_code=202, responses=REFUSED)
async def suspend_tenant(
    tenant_id: uuid.UUID, principal: PrincipalDep, db: TenantDb, resources: ResourcesDep
) -> WorkflowStarted:
    """``tenant.manage``: logins into the tenant are refused, the data stays, members are told."""
    await require_permission(db, principal, tenant_id, Permission.TENANT_MANAGE)
    return await start(
        resources,
        principal,
        TenantSuspensionWorkflow.run,
        _input(tenant_id, principal, SuspensionAction.SUSPEND, 0.0),
        workflow_id=tenant_suspension_workflow_id(str(tenant_id)),
        busy=BUSY,
    )


@router.post("/resume", status_code=202, responses=REFUSED)
async def resume_tenant(
    tenant_id: uuid.UUID, principal: PrincipalDep, db: TenantDb, resources: ResourcesDep
) -> WorkflowStarted:
    """``tenant.manage`` (a built-in or a custom role's): claims restored from the memberships;
    a deletion still in its grace period is cancelled."""
    _, permissions = await own_permissions(db, principal, tenant_id)
    if Permission.TENANT_MANAGE not in permissions:
        raise tenant_error(TenantError.PERMISSION_DENIED, "this needs the tenant.manage permission")
    deletion = tenant_deletion_workflow_id(str(tenant_id))
    calls = errors("tenant_resume", BUSY)
    with workflow_calls.mapped(calls):
        try:
            described = await resources.temporal.get_workflow_handle(deletion).describe()
            waiting = described.status == WorkflowExecutionStatus.RUNNING
        except RPCError as error:
            if error.status not in workflow_calls.GONE:
                raise
            waiting = False
    if waiting:
        # An update, not a signal: the run answers whether it still can be cancelled.
        ended = dataclasses.replace(
            calls,
            not_found=lambda: tenant_error(
                TenantError.TENANT_NOT_ACTIVE, "the deletion has just ended; try again"
            ),
        )
        await workflow_calls.update(
            resources.temporal,
            deletion,
            CANCEL_DELETION_UPDATE,
            None,
            result_type=str,
            errors=ended,
            answer_seconds=UPDATE_ANSWER_SECONDS,
        )
        return WorkflowStarted(workflow_id=deletion)
    return await start(
        resources,
        principal,
        TenantSuspensionWorkflow.run,
        _input(tenant_id, principal, SuspensionAction.RESUME, 0.0),
        workflow_id=tenant_suspension_workflow_id(str(tenant_id)),
        busy=BUSY,
    )


@router.post("/delete", status_code=202, responses=REFUSED)
async def delete_tenant(
    tenant_id: uuid.UUID, principal: PrincipalDep, db: TenantDb, resources: ResourcesDep
) -> WorkflowStarted:
    """Owners only: members lose access now; after ``ADX_TENANT_DELETION_GRACE_SECONDS`` (a
    resume cancels it meanwhile) the data is exported and erased from every schema."""
    if await _own_role(db, principal, tenant_id) != BuiltInRole.OWNER.value:
        raise tenant_error(TenantError.OWNER_REQUIRED, "only an owner can delete the tenant")
    return await start(
        resources,
        principal,
        TenantSuspensionWorkflow.run,
        _input(
            tenant_id,
            principal,
            SuspensionAction.DELETE,
            resources.settings.tenant_deletion_grace_seconds,
        ),
        workflow_id=tenant_deletion_workflow_id(str(tenant_id)),
        busy="a deletion of this tenant is scheduled already",
    )
