"""``password_reset``: a single-use, expiring link by e-mail; redeeming it (with the new password's
hash) sets the password and revokes every session. MFA stays as it was.

Unknown addresses run the same course without a mail, so the run reveals nothing either.
The link's token never enters this workflow: one activity issues it (the database keeps its
SHA-256) and mails it, and redeeming hands the workflow only the token's hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.auth.contracts import (
        FIND_ACCOUNT,
        ISSUE_ONE_TIME_TOKEN,
        MAIL_RESET_LINK,
        REVOKE_SESSIONS,
        SEND_EMAIL,
        SET_PASSWORD,
        AuthError,
        AuthWorkflow,
        FindAccountInput,
        IssueOneTimeTokenInput,
        MailResetLinkInput,
        MailTemplate,
        RevokeSessionsInput,
        SendEmailInput,
        SetPasswordInput,
        TokenPurpose,
        address_digest,
    )
    from workflows.auth.token_gate import TokenGate
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker

CONFIRM_RESET_UPDATE = "confirm_password_reset"
#: Only for starters that pass nothing; the auth API passes ``ADX_AUTH_RESET_TOKEN_MINUTES``.
DEFAULT_TOKEN_SECONDS = 15 * 60.0
RESET_REASON = "password_reset"
#: The token is issued and mailed in one activity and never enters this workflow; runs from
#: before issued it in one step and mailed it in the next (the token sealed in between).
MAIL_LINK_PATCH = "reset-link-minted-in-mail-step"


class ResetStatus(StrEnum):
    completed = "completed"
    expired = "expired"


@dataclass
class PasswordResetInput:
    email: str
    token_ttl_seconds: float = DEFAULT_TOKEN_SECONDS


@dataclass
class PasswordResetResult:
    status: str


@dataclass
class ConfirmResetInput:
    token_hash: str
    #: argon2id hash of the new password, made by the auth API after the policy check.
    password_hash: str


@dataclass
class ConfirmResetResult:
    status: str


def check_new_password_hash(password_hash: str) -> None:
    """A confirm update's validator: the auth API hashed the new password (argon2id)."""
    if not password_hash.startswith("$argon2id$"):
        raise ApplicationError(
            "not an argon2id hash", type=AuthError.INVALID_INPUT, non_retryable=True
        )


async def set_new_password(user_id: str, password_hash: str, key: str) -> None:
    """A redeemed reset token's two steps (this workflow's and ``bulk_password_links``'): the
    new password, then whoever knew the old one is signed out everywhere, access tokens
    included. ``key`` makes both steps idempotent per run (and per person where a run serves
    several)."""
    await SET_PASSWORD.execute(
        SetPasswordInput(
            user_id=user_id,
            password_hash=password_hash,
            reason=RESET_REASON,
            idempotency_key=f"{key}:password",
        )
    )
    await REVOKE_SESSIONS.execute(
        RevokeSessionsInput(user_id=user_id, reason=RESET_REASON, idempotency_key=f"{key}:sessions")
    )


def password_reset_workflow_id(email: str) -> str:
    """One reset per address at a time (a second request joins it); the id hides the address."""
    return f"password-reset-{address_digest(email)}"


@workflow.defn(name=AuthWorkflow.PASSWORD_RESET)
class PasswordResetWorkflow:
    def __init__(self) -> None:
        self._progress = ProgressTracker(total=2)
        self._gate = TokenGate(TokenPurpose.password_reset)
        self._key = ""

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.update(name=CONFIRM_RESET_UPDATE)
    async def confirm(self, input: ConfirmResetInput) -> ConfirmResetResult:
        async with self._gate.redeem(input.token_hash) as user_id:
            self._progress.set_state(ProgressState.running, "setting the new password")
            await set_new_password(user_id, input.password_hash, self._key)
        return ConfirmResetResult(status=ResetStatus.completed)

    @confirm.validator
    def _check_confirm(self, input: ConfirmResetInput) -> None:
        self._gate.check(input.token_hash)
        check_new_password_hash(input.password_hash)

    @workflow.run
    async def run(self, input: PasswordResetInput) -> PasswordResetResult:
        info = workflow.info()
        self._key = f"{info.workflow_id}:{info.run_id}"
        self._progress.advance(0, "sending reset e-mail")
        account = await FIND_ACCOUNT.execute(FindAccountInput(email=input.email))
        if account.user_id is not None and workflow.patched(MAIL_LINK_PATCH):
            # The gate opens first: the link may be clicked before this step reports back.
            self._gate.open()
            await MAIL_RESET_LINK.execute(
                MailResetLinkInput(
                    user_id=account.user_id,
                    to=input.email,
                    ttl_seconds=input.token_ttl_seconds,
                    idempotency_key=f"{self._key}:link",
                )
            )
        elif account.user_id is not None:
            issued = await ISSUE_ONE_TIME_TOKEN.execute(
                IssueOneTimeTokenInput(
                    user_id=account.user_id,
                    purpose=TokenPurpose.password_reset,
                    ttl_seconds=input.token_ttl_seconds,
                    workflow_id=info.workflow_id,
                    idempotency_key=f"{self._key}:token",
                )
            )
            self._gate.open()
            await SEND_EMAIL.execute(
                SendEmailInput(
                    to=input.email,
                    template=MailTemplate.password_reset,
                    token=issued.token,
                    idempotency_key=f"{self._key}:mail",
                )
            )
        # An unknown address waits out the same deadline: the run looks the same either way.
        self._progress.advance(1, "waiting for a new password", ProgressState.waiting)
        if await self._gate.wait(timedelta(seconds=input.token_ttl_seconds)):
            self._progress.advance(2, "password changed", ProgressState.completed)
            return PasswordResetResult(status=ResetStatus.completed)
        self._progress.advance(2, "reset link expired", ProgressState.completed)
        return PasswordResetResult(status=ResetStatus.expired)
