"""Talking to a user's ``mfa_setup`` workflow from HTTP: start (or join) it, read its secret,
send an activation code; workflow errors become problem+json responses."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from services.auth.mfa.sealed import OTPAUTH_URI, RECOVERY_CODE, TOTP_CODE, TOTP_SECRET, MfaSeals
from services.auth.runtime import AuthRuntime
from services.common import workflow_calls
from services.common.errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    ServiceUnavailableError,
)
from services.common.settings import ServiceName
from services.common.workflow_calls import details_of
from workflows.auth.contracts import AuthError
from workflows.auth.mfa_setup import (
    ACTIVATE_UPDATE,
    SECRET_UPDATE,
    ActivateInput,
    ActivateResult,
    MfaSecret,
    MfaSetupInput,
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
    await workflow_calls.start(
        runtime.temporal,
        MfaSetupWorkflow.run,
        MfaSetupInput(
            user_id=str(user_id), deadline_seconds=runtime.settings.auth_mfa_setup_seconds
        ),
        id=workflow_id,
        task_queue=runtime.settings.task_queue(ServiceName.auth),
        errors=SETUP_ERRORS,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    sealed = await workflow_calls.update(
        runtime.temporal,
        workflow_id,
        SECRET_UPDATE,
        None,
        result_type=MfaSecret,
        errors=SETUP_ERRORS,
        answer_seconds=ANSWER_SECONDS,
    )
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
    seals = MfaSeals(runtime.settings, str(user_id))
    result = await workflow_calls.update(
        runtime.temporal,
        mfa_setup_workflow_id(str(user_id)),
        ACTIVATE_UPDATE,
        # Sealed before it enters the update (and so the history); verify_totp opens it.
        ActivateInput(code=seals.seal(TOTP_CODE, code), session_id=str(session_id)),
        result_type=ActivateResult,
        errors=SETUP_ERRORS,
        answer_seconds=ANSWER_SECONDS,
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


#: Business types map to 4xx; an update that failed otherwise, or got no answer, is a 503.
SETUP_ERRORS = workflow_calls.WorkflowErrors(
    call="mfa_setup",
    unavailable="MFA setup is unavailable; try again",
    failed="MFA setup failed; try again",
    timed_out="MFA setup did not answer in time; try again",
    not_found=lambda: NotFoundError(NO_SETUP),
    failures={
        AuthError.INVALID_CODE: lambda c: InvalidCodeError(c.message, extra=details_of(c)),
        AuthError.MFA_TOO_MANY_ATTEMPTS: lambda c: InvalidCodeError(c.message, extra=details_of(c)),
        AuthError.MFA_ALREADY_ENABLED: lambda c: ConflictError(c.message),
        AuthError.MFA_SETUP_NOT_FOUND: lambda c: NotFoundError(c.message),
    },
    business=lambda c: ConflictError(c.message),
)
