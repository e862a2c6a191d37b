"""``mfa_setup``: a pending TOTP secret that one valid code activates before a deadline; on timeout
or too many wrong codes the secret is removed again (saga compensation).

Conversation (Temporal updates, so the HTTP caller gets an answer in one round trip):
``secret`` returns the secret and otpauth URI once created; ``activate(code)`` checks a code and,
when it is valid, enables MFA, ends the user's other sessions (a changed factor, ASVS 5.0 7.4.3)
and returns the recovery codes. A wrong code fails only that update; the workflow keeps waiting
until the attempts run out.

No secret is readable in this workflow's payloads: the secret, the URI and the recovery codes
arrive sealed from the activities and leave sealed to the auth API, which seals the code too
(docs/auth.md, "Secrets never enter workflow payloads"). The workflow only passes them on.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import NoReturn

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.auth.contracts import (
        REVOKE_SESSIONS,
        AuthError,
        AuthWorkflow,
        RevokeSessionsInput,
    )
    from workflows.auth.mfa_contracts import (
        CREATE_TOTP_SECRET,
        DELETE_TOTP_SECRET,
        ENABLE_MFA,
        VERIFY_TOTP,
        CreateTotpSecretInput,
        DeleteTotpSecretInput,
        EnableMfaInput,
        VerifyTotpInput,
    )
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker

SECRET_UPDATE = "secret"  # noqa: S105 - an update name
ACTIVATE_UPDATE = "activate"
DEFAULT_DEADLINE_SECONDS = 600.0
DEFAULT_MAX_ATTEMPTS = 5
#: Each accepted update is written to the history; reads beyond this are refused by the
#: validator (which writes nothing), so a client cannot grow the history without bound.
MAX_SECRET_READS = 20
ENABLED = "enabled"
CODE = re.compile(r"[0-9]{6}")
#: A code the auth API sealed (services/common/sealing.py): the workflow passes it on unopened.
SEALED_CODE = re.compile(r"sealed:v1:[A-Za-z0-9_.-]{1,64}:[A-Za-z0-9_-]{20,200}")
#: Enabling MFA revokes the user's other sessions: a new activity after ENABLE_MFA.
REVOKE_OTHER_SESSIONS_PATCH = "mfa-enable-revokes-other-sessions"
REVOKE_REASON = "mfa_enabled"


@dataclass
class MfaSetupInput:
    user_id: str
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


@dataclass
class MfaSetupResult:
    user_id: str
    status: str


@dataclass
class MfaSecret:
    secret: str
    otpauth_uri: str
    #: ISO 8601; activation is refused after this moment.
    expires_at: str


@dataclass
class ActivateInput:
    code: str
    #: The session activating MFA: it stays open while every other one is revoked. None (a
    #: caller without a session) revokes them all.
    session_id: str | None = None


@dataclass
class ActivateResult:
    recovery_codes: list[str] = field(default_factory=list)


def mfa_setup_workflow_id(user_id: str) -> str:
    """One setup per user at a time: starting again joins the running one."""
    return f"mfa-setup-{user_id}"


def _closed(message: str, kind: str = AuthError.MFA_SETUP_CLOSED) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _cause_type(error: ActivityError, default: str) -> str:
    cause = error.cause
    return (cause.type or default) if isinstance(cause, ApplicationError) else default


@workflow.defn(name=AuthWorkflow.MFA_SETUP)
class MfaSetupWorkflow:
    @workflow.init
    def __init__(self, input: MfaSetupInput) -> None:
        self._input = input
        self._progress = ProgressTracker(total=3)
        self._secret: MfaSecret | None = None
        self._setup_key = ""
        #: None while waiting; then ENABLED or the error type the run ends with.
        self._outcome: str | None = None
        self._attempts = 0
        self._secret_reads = 0
        # Codes are checked one at a time, so two racing activations cannot both enable MFA.
        self._checking = asyncio.Lock()

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.run
    async def run(self, input: MfaSetupInput) -> MfaSetupResult:
        info = workflow.info()
        key = f"{info.workflow_id}:{info.run_id}"
        self._setup_key = f"{key}:secret"
        deadline = timedelta(seconds=max(input.deadline_seconds, 1.0))
        expires_at = workflow.now() + deadline

        self._progress.advance(0, "creating the TOTP secret")
        try:
            created = await CREATE_TOTP_SECRET.execute(
                CreateTotpSecretInput(user_id=input.user_id, idempotency_key=self._setup_key)
            )
        except ActivityError as error:
            # Nothing was written, so there is nothing to compensate.
            self._outcome = _cause_type(error, AuthError.MFA_SETUP_NOT_FOUND)
            self._progress.set_state(ProgressState.failed, "the secret could not be created")
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise _closed("MFA setup could not start", self._outcome) from error
        self._secret = MfaSecret(created.secret, created.otpauth_uri, expires_at.isoformat())

        self._progress.advance(1, "waiting for a code from the app", ProgressState.waiting)
        try:
            await workflow.wait_condition(lambda: self._outcome is not None, timeout=deadline)
        except TimeoutError:
            pass
        # A code being checked when the deadline passes still gets its answer.
        await workflow.wait_condition(lambda: not self._checking.locked())
        if self._outcome is None:
            self._outcome = AuthError.MFA_SETUP_EXPIRED

        if self._outcome == ENABLED:
            self._progress.advance(3, "MFA enabled", ProgressState.completed)
            await workflow.wait_condition(workflow.all_handlers_finished)
            return MfaSetupResult(user_id=input.user_id, status=ENABLED)

        # Saga: an unconfirmed secret must not outlive its setup.
        self._progress.set_state(ProgressState.compensating, "removing the unconfirmed secret")
        await DELETE_TOTP_SECRET.execute(
            DeleteTotpSecretInput(
                user_id=input.user_id,
                setup_key=self._setup_key,
                reason=self._outcome,
                idempotency_key=f"{key}:secret:undo",
            )
        )
        self._progress.set_state(ProgressState.failed, "MFA was not enabled")
        await workflow.wait_condition(workflow.all_handlers_finished)
        raise _closed(f"MFA setup ended without activation ({self._outcome})", self._outcome)

    def _ensure_open(self) -> None:
        if self._outcome in (ENABLED, AuthError.MFA_ALREADY_ENABLED):
            raise _closed("MFA is already enabled", AuthError.MFA_ALREADY_ENABLED)
        if self._outcome is not None:
            raise _closed("this MFA setup has ended; start a new one")

    @workflow.update(name=SECRET_UPDATE)
    async def secret(self) -> MfaSecret:
        self._secret_reads += 1
        await workflow.wait_condition(lambda: self._secret is not None or self._outcome is not None)
        self._ensure_open()
        assert self._secret is not None
        return self._secret

    @secret.validator
    def _validate_secret(self) -> None:
        self._ensure_open()
        if self._secret_reads >= MAX_SECRET_READS:
            raise _closed("the secret was requested too often; wait for this setup to expire")

    @workflow.update(name=ACTIVATE_UPDATE)
    async def activate(self, request: ActivateInput) -> ActivateResult:
        async with self._checking:
            self._ensure_open()
            check = await VERIFY_TOTP.execute(
                VerifyTotpInput(
                    user_id=self._input.user_id, setup_key=self._setup_key, code=request.code
                )
            )
            if not check.valid or check.step is None:
                self._wrong_code()
            self._progress.advance(2, "enabling MFA")
            try:
                enabled = await ENABLE_MFA.execute(
                    EnableMfaInput(
                        user_id=self._input.user_id,
                        setup_key=self._setup_key,
                        step=check.step,
                        idempotency_key=f"{self._setup_key}:enable",
                    )
                )
            except ActivityError as error:
                self._outcome = _cause_type(error, AuthError.MFA_SETUP_NOT_FOUND)
                raise _closed("MFA could not be enabled", self._outcome) from error
            self._outcome = ENABLED
            if workflow.patched(REVOKE_OTHER_SESSIONS_PATCH):
                await self._revoke_other_sessions(request.session_id)
            return ActivateResult(recovery_codes=enabled.recovery_codes)

    async def _revoke_other_sessions(self, keep: str | None) -> None:
        """Before the codes are shown, so 'MFA is on' means no older session survives."""
        self._progress.advance(2, "ending other sessions")
        try:
            await REVOKE_SESSIONS.execute(
                RevokeSessionsInput(
                    user_id=self._input.user_id,
                    reason=REVOKE_REASON,
                    idempotency_key=f"{self._setup_key}:revoke-sessions",
                    keep_session_id=keep,
                )
            )
        except ActivityError:
            # MFA is on and its codes are stored: failing the update now would lose the only
            # copy of the codes. The failure is in the history and the log for operators.
            workflow.logger.exception("MFA enabled, but other sessions could not be revoked")

    def _wrong_code(self) -> NoReturn:
        self._attempts += 1
        left = max(self._input.max_attempts - self._attempts, 0)
        if left == 0:
            self._outcome = AuthError.MFA_TOO_MANY_ATTEMPTS
            raise ApplicationError(
                "too many wrong codes: MFA setup was cancelled; start again",
                {"attempts_left": 0},
                type=AuthError.MFA_TOO_MANY_ATTEMPTS,
                non_retryable=True,
            )
        raise ApplicationError(
            f"the code is not valid; {left} attempt(s) left",
            {"attempts_left": left},
            type=AuthError.INVALID_CODE,
            non_retryable=True,
        )

    @activate.validator
    def _validate_activate(self, request: ActivateInput) -> None:
        # Refused here, a malformed code costs no attempt and leaves no trace in the history.
        if not isinstance(request, ActivateInput) or not isinstance(request.code, str):
            raise _closed("expected {code}", AuthError.INVALID_CODE)
        if not (CODE.fullmatch(request.code) or SEALED_CODE.fullmatch(request.code)):
            raise _closed("a code is 6 digits", AuthError.INVALID_CODE)
        if request.session_id is not None and not _is_uuid(request.session_id):
            raise _closed("session_id must be a UUID", AuthError.INVALID_INPUT)
        self._ensure_open()
        if self._secret is None:
            raise _closed("the secret is not created yet; try again", AuthError.MFA_SETUP_NOT_FOUND)
