"""Password reset over the auth API: request a link (one answer whether or not the address has
an account) and confirm it with a new password. Requests are limited per client and per
address (``services/auth/reset_limits.py``); confirming is never limited, nor throttled by
failed logins."""

from __future__ import annotations

from fastapi import APIRouter
from temporalio.common import WorkflowIDConflictPolicy

from services.auth.dependencies import ClientDep, RuntimeDep
from services.auth.one_time_tokens import redeem, waiting_workflow
from services.auth.passwords import hash_password
from services.auth.schemas import ResetConfirm, ResetDone, ResetRequest, ResetRequested
from services.common import workflow_calls
from services.common.errors import InvalidInputError
from services.common.logging import get_logger
from services.common.openapi import problems
from services.common.settings import ServiceName
from workflows.auth.contracts import InvalidEmailError, TokenPurpose, normalize_email
from workflows.auth.password_policy import PasswordPolicyError, check_policy
from workflows.auth.password_reset import (
    CONFIRM_RESET_UPDATE,
    ConfirmResetInput,
    ConfirmResetResult,
    PasswordResetInput,
    PasswordResetWorkflow,
    password_reset_workflow_id,
)

router = APIRouter(tags=["password reset"])
_log = get_logger(__name__)
_START_ERRORS = workflow_calls.WorkflowErrors(
    call="password_reset_start", unavailable="Could not start the reset now; try again."
)


@router.post(
    "/auth/password-reset",
    status_code=202,
    responses=problems(
        {
            422: "Not an e-mail address",
            429: "Too many requests from this client address",
            503: "Temporal unreachable; retry",
        }
    ),
)
async def request_reset(
    body: ResetRequest, runtime: RuntimeDep, client: ClientDep
) -> ResetRequested:
    """The same answer, after the same work (starting a workflow), for every address: the
    account lookup happens inside the workflow, never in this request. Only an address over
    its mail limit skips the work, and that limit counts requests, not accounts."""
    try:
        email = normalize_email(body.email)
    except InvalidEmailError as error:
        raise InvalidInputError(str(error)) from error
    limits = runtime.reset_limits
    await limits.admit_client(client.ip)
    if not await limits.address_has_room(email):
        # No more mails to this address for now; the answer must not differ.
        _log.info("password_reset.address_limited")
        return ResetRequested()
    settings = runtime.settings
    started = await workflow_calls.start(
        runtime.temporal,
        PasswordResetWorkflow.run,
        PasswordResetInput(email=email, token_ttl_seconds=settings.auth_reset_token_minutes * 60),
        id=password_reset_workflow_id(email),
        task_queue=settings.task_queue(ServiceName.auth),
        errors=_START_ERRORS,
        # A second request while a reset runs joins it (its mail is on the way) and, not
        # having started anything, does not count against the address.
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    if started is None:
        return ResetRequested()
    await limits.count_started(email)
    return ResetRequested()


@router.post(
    "/auth/password-reset/confirm",
    responses=problems(
        {
            400: "Invalid, spent or expired token (one answer for all)",
            422: "The new password breaks the policy",
            503: "Temporal unreachable; retry",
        }
    ),
)
async def confirm_reset(body: ResetConfirm, runtime: RuntimeDep) -> ResetDone:
    # Policy first: a rejected password must not spend the link.
    try:
        check_policy(body.new_password)
    except PasswordPolicyError as error:
        raise InvalidInputError(str(error)) from error
    # Only a live token earns the (deliberately slow) argon2id hash.
    workflow_id = await waiting_workflow(runtime, body.token, TokenPurpose.password_reset)
    password_hash = await hash_password(body.new_password)
    result = await redeem(
        runtime,
        body.token,
        purpose=TokenPurpose.password_reset,
        update=CONFIRM_RESET_UPDATE,
        argument=lambda token_hash: ConfirmResetInput(
            token_hash=token_hash, password_hash=password_hash
        ),
        result_type=ConfirmResetResult,
        workflow_id=workflow_id,
    )
    return ResetDone(status=result.status)
