"""Deactivation and reactivation over HTTP: each starts ``user_deactivation`` (the profile, auth's
logins and sessions, the memberships in every tenant, the files; with compensation) and answers
202 with the run's id. The caller is checked here first and again, against the user service's
rows, by the workflow's first step (``services/user/accounts/activities.py``):

- an operator (``ADX_WORKFLOW_OPERATOR_USER_IDS``) for anyone;
- ``members.manage`` in the active tenant for another member of it (an owner only by an owner)
  who belongs to no other tenant; anyone else is a 404, as an unknown id;
- nobody for themself (409): a deactivated user could not undo it.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from services.common import workflow_calls
from services.common.app import ResourcesDep
from services.common.errors import ConflictError
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName
from services.common.tenant_db import TenantDb
from services.common.workflow_calls import WorkflowErrors
from services.user.access import caller_id, check_may_change, member_entry
from services.user.accounts.activities import operator_ids
from services.user.errors import user_error
from services.user.schemas import DeactivateUserRequest, UserWorkflowStarted
from workflows.accounts.user_deactivation import (
    UserDeactivationInput,
    UserDeactivationWorkflow,
    user_deactivation_workflow_id,
)
from workflows.user.contracts import UserError

router = APIRouter(prefix="/users", tags=["accounts"])
BUSY = "a deactivation or reactivation of this user is in progress; try again when it is done"
REFUSED: dict[int | str, dict[str, Any]] = {
    403: problem_response(403, "No members.manage permission, or an owner's account"),
    404: problem_response(404, "No such user, or one the caller cannot see"),
    409: problem_response(409, "Oneself, or a change of this user is in progress"),
}


async def _start(
    user_id: uuid.UUID,
    principal: PrincipalDep,
    db: TenantDb,
    resources: ResourcesDep,
    *,
    reactivate: bool,
    body: DeactivateUserRequest | None = None,
) -> UserWorkflowStarted:
    me = caller_id(principal)
    if me == user_id:
        raise user_error(
            UserError.ACCOUNT_CHANGE_REFUSED, "nobody deactivates or reactivates themself"
        )
    operator = me in operator_ids(resources.settings.workflow_operator_user_ids)
    if not operator:
        target = await member_entry(db, principal, user_id)
        if target is None:
            raise user_error(UserError.USER_NOT_FOUND, f"user {user_id} not found")
        check_may_change(principal, target)
    workflow_id = user_deactivation_workflow_id(str(user_id))
    with acting_as(SecurityContext.for_principal(principal)):
        await workflow_calls.start(
            resources.temporal,
            UserDeactivationWorkflow.run,
            UserDeactivationInput(
                user_id=str(user_id),
                actor_id=str(me),
                tenant_id=principal.tenant_id,
                reactivate=reactivate,
                file_policy=body.file_policy if body else "keep",
                transfer_to=str(body.transfer_to) if body and body.transfer_to else None,
            ),
            id=workflow_id,
            task_queue=resources.settings.task_queue(ServiceName.user),
            errors=WorkflowErrors(
                call="user-deactivation", already_started=lambda: ConflictError(BUSY)
            ),
        )
    return UserWorkflowStarted(workflow_id=workflow_id)


@router.post("/{user_id}/deactivate", status_code=202, responses=REFUSED)
async def deactivate_user(
    user_id: uuid.UUID,
    principal: PrincipalDep,
    db: TenantDb,
    resources: ResourcesDep,
    body: DeactivateUserRequest | None = None,
) -> UserWorkflowStarted:
    """Logins refused, every session ended, the memberships suspended, the files kept or
    transferred (``file_policy``), the profile ``deactivated``."""
    return await _start(user_id, principal, db, resources, reactivate=False, body=body)


@router.post("/{user_id}/reactivate", status_code=202, responses=REFUSED)
async def reactivate_user(
    user_id: uuid.UUID, principal: PrincipalDep, db: TenantDb, resources: ResourcesDep
) -> UserWorkflowStarted:
    """Undoes a deactivation, step by step in reverse."""
    return await _start(user_id, principal, db, resources, reactivate=True)
