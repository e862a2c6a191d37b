"""Talking to a user's ``mfa_setup`` workflow from HTTP: start (or join) it, read its secret,
send an activation code; workflow errors become problem+json responses."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from temporalio.client import (
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from services.auth.mfa.sealed import OTPAUTH_URI, RECOVERY_CODE, TOTP_CODE, TOTP_SECRET, MfaSeals
from services.auth.runtime import AuthRuntime
from services.common.errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    ServiceUnavailableError,
)
from services.common.settings import ServiceName
from workflows.auth.contracts import AuthError
from workflows.auth.mfa_setup import (
    ACTIVATE_UPDATE,
    SECRET_UPDATE,
    ActivateInput,
    ActivateResult,
    MfaSecret,
    MfaSetupInput,
    MfaSetupResult,
    MfaSetupWorkflow,
    mfa_setup_workflow_id,
)

#: How long an HTTP request waits for the workflow's answer (an activity round trip or two).
ANSWER_SECONDS = 20.0
NO_SETUP = "no MFA setup in progress; start one with POST /auth/mfa/setup"


class InvalidCodeError(DomainError):
    status = 400
    type = "https://adx.dev/problems/invalid-code"
    title = "Invalid code"


async def start_setup(runtime: AuthRuntime, user_id: uuid.UUID) -> tuple[str, MfaSecret]:
    """Start the user's setup, or join the one already running.

    USE_EXISTING rather than TERMINATE_EXISTING: a double click or a reload shows the same
    secret instead of silently invalidating the QR code the user may have scanned already, and
    the running setup keeps its deadline and compensation (a terminated run would skip both).
    """
    workflow_id = mfa_setup_workflow_id(str(user_id))
    handle = await runtime.temporal.start_workflow(
        MfaSetupWorkflow.run,
        MfaSetupInput(
            user_id=str(user_id), deadline_seconds=runtime.settings.auth_mfa_setup_seconds
        ),
        id=workflow_id,
        task_queue=runtime.settings.task_queue(ServiceName.auth),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    sealed: MfaSecret = await _update(handle, SECRET_UPDATE, None, MfaSecret)
    # The workflow carries the secret sealed; it is opened here, for this user's answer only.
    seals = MfaSeals(runtime.settings, str(user_id))
    with _unopenable():
        secret = MfaSecret(
            secret=seals.open(TOTP_SECRET, sealed.secret),
            otpauth_uri=seals.open(OTPAUTH_URI, sealed.otpauth_uri),
            expires_at=sealed.expires_at,
        )
    return workflow_id, secret


async def activate(
    runtime: AuthRuntime, user_id: uuid.UUID, code: str, session_id: uuid.UUID
) -> list[str]:
    """Send a code to the running setup; its recovery codes once the code is accepted (and the
    user's sessions other than ``session_id`` are revoked)."""
    handle = runtime.temporal.get_workflow_handle(
        mfa_setup_workflow_id(str(user_id)), result_type=MfaSetupResult
    )
    seals = MfaSeals(runtime.settings, str(user_id))
    result: ActivateResult = await _update(
        handle,
        ACTIVATE_UPDATE,
        # Sealed before it enters the update (and so the history); verify_totp opens it.
        ActivateInput(code=seals.seal(TOTP_CODE, code), session_id=str(session_id)),
        ActivateResult,
    )
    with _unopenable():
        return [seals.open(RECOVERY_CODE, sealed) for sealed in result.recovery_codes]


@contextmanager
def _unopenable() -> Iterator[None]:
    """A sealed value this process cannot open (its seal keys lack the sealing key): a 503."""
    try:
        yield
    except ApplicationError as error:
        raise ServiceUnavailableError("MFA setup failed; try again") from error


async def _update(handle: WorkflowHandle[Any, Any], name: str, arg: Any, result_type: type) -> Any:
    args = [] if arg is None else [arg]
    try:
        async with asyncio.timeout(ANSWER_SECONDS):
            return await handle.execute_update(name, args=args, result_type=result_type)
    except WorkflowUpdateFailedError as error:
        raise _problem(error.cause) from error
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise NotFoundError(NO_SETUP) from error
        raise ServiceUnavailableError("MFA setup is unavailable; try again") from error
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as error:
        # No worker answered (worker down, or an HTTP-only process without one): a 503.
        raise ServiceUnavailableError("MFA setup did not answer in time; try again") from error


def _problem(cause: BaseException | None) -> DomainError:
    """The HTTP error for a failed update: business types map to 4xx, anything else is 503."""
    if isinstance(cause, ActivityError) and isinstance(cause.cause, ApplicationError):
        cause = cause.cause  # a business error raised by an activity the update ran
    if not isinstance(cause, ApplicationError):
        return ServiceUnavailableError("MFA setup failed; try again")
    details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
    if cause.type in (AuthError.INVALID_CODE, AuthError.MFA_TOO_MANY_ATTEMPTS):
        return InvalidCodeError(cause.message, extra=details)
    if cause.type == AuthError.MFA_ALREADY_ENABLED:
        return ConflictError(cause.message)
    if cause.type == AuthError.MFA_SETUP_NOT_FOUND:
        return NotFoundError(cause.message)
    if cause.non_retryable:
        return ConflictError(cause.message)
    return ServiceUnavailableError("MFA setup failed; try again")
