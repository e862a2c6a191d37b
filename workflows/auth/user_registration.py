"""``user_registration``: credentials (auth) + profile (user), then a verification e-mail with a
single-use token and a wait for it until a deadline; on the deadline the unverified account is
removed. Every step is compensated when a later one fails.

Runs started before the ``registration-email-verification`` patch end after the profile (v1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.auth.contracts import (
        CREATE_CREDENTIALS,
        DELETE_CREDENTIALS,
        ISSUE_ONE_TIME_TOKEN,
        MARK_EMAIL_VERIFIED,
        SEND_EMAIL,
        CreateCredentialsInput,
        CreateCredentialsOutput,
        DeleteCredentialsInput,
        DeleteCredentialsOutput,
        InvalidEmailError,
        IssueOneTimeTokenInput,
        IssueOneTimeTokenOutput,
        MailTemplate,
        MarkEmailVerifiedInput,
        MarkEmailVerifiedOutput,
        SendEmailInput,
        SendEmailOutput,
        TokenPurpose,
        address_digest,
        normalize_email,
    )
    from workflows.auth.password_policy import PasswordPolicyError, check_policy
    from workflows.auth.token_gate import TokenGate
    from workflows.common.calls import call_activity
    from workflows.common.errors import EMAIL_TAKEN
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.user.contracts import (
        CREATE_PROFILE,
        DELETE_PROFILE,
        CreateProfileInput,
        CreateProfileOutput,
        DeleteProfileInput,
        DeleteProfileOutput,
    )

if TYPE_CHECKING:
    from temporalio.client import Client

WORKFLOW_NAME = "user_registration"
VERIFY_EMAIL_UPDATE = "verify_email"
EMAIL_VERIFICATION_PATCH = "registration-email-verification"
#: Only for starters that pass nothing; the gateway and the auth API pass the setting.
DEFAULT_VERIFICATION_SECONDS = 48 * 3600.0
DISPLAY_NAME_MAX = 200


class RegistrationStatus(StrEnum):
    pending_verification = "pending_verification"  # v1 runs only
    verified = "verified"
    expired = "expired"


@dataclass
class RegistrationInput:
    email: str
    password: str
    display_name: str
    #: How long the account may stay unverified (``ADX_AUTH_VERIFICATION_HOURS``, in seconds).
    verification_timeout_seconds: float = DEFAULT_VERIFICATION_SECONDS


@dataclass
class RegistrationResult:
    """Readable by anyone holding the workflow id (GraphQL ``workflowRun``), so it holds no user
    id and nothing that tells a new account from an address that already had one."""

    status: str
    email: str
    user_id: str | None = None  # v1 runs only
    display_name: str | None = None  # v1 runs only


@dataclass
class VerifyEmailInput:
    token_hash: str


@dataclass
class VerifyEmailResult:
    status: str


class InvalidRegistrationError(ValueError):
    """A sign-up rejected before any workflow exists; the message is fit for a form."""


def registration_input(
    email: str, password: str, display_name: str, *, verification_timeout_seconds: float
) -> RegistrationInput:
    """The one validation of a sign-up, shared by the gateway's ``signUp`` and ``POST
    /auth/register``; the activities check again, since anyone may start the workflow."""
    try:
        normalized = normalize_email(email)
        check_policy(password)
    except (InvalidEmailError, PasswordPolicyError) as error:
        raise InvalidRegistrationError(str(error)) from error
    name = display_name.strip()
    if not 1 <= len(name) <= DISPLAY_NAME_MAX:
        raise InvalidRegistrationError(f"display name must be 1-{DISPLAY_NAME_MAX} characters")
    if not name.isprintable():
        raise InvalidRegistrationError("display name must not contain control characters")
    return RegistrationInput(
        email=normalized,
        password=password,
        display_name=name,
        verification_timeout_seconds=verification_timeout_seconds,
    )


def registration_workflow_id(email: str) -> str:
    """One registration per e-mail at a time; the id does not reveal the address."""
    return f"user-registration-{address_digest(email)}"


async def start_registration(
    client: Client, task_queue: str, registration: RegistrationInput
) -> str:
    """Start the registration of a validated sign-up and return its workflow id. While one runs
    for the address, a second sign-up joins it instead of starting another."""
    workflow_id = registration_workflow_id(registration.email)
    await client.start_workflow(
        WORKFLOW_NAME,
        registration,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return workflow_id


class RegistrationFailed(ApplicationError):
    def __init__(self, message: str) -> None:
        super().__init__(message, type="RegistrationFailed", non_retryable=True)


@workflow.defn(name=WORKFLOW_NAME)
class UserRegistrationWorkflow:
    def __init__(self) -> None:
        self._progress = ProgressTracker(total=2)
        self._gate = TokenGate(TokenPurpose.verify_email)
        self._key = ""

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.update(name=VERIFY_EMAIL_UPDATE)
    async def verify_email(self, input: VerifyEmailInput) -> VerifyEmailResult:
        """Sent by ``POST /auth/verify-email`` with the SHA-256 of the token from the mail."""
        async with self._gate.redeem(input.token_hash) as user_id:
            self._progress.set_state(ProgressState.running, "verifying e-mail")
            await call_activity(
                MARK_EMAIL_VERIFIED,
                MarkEmailVerifiedInput(user_id=user_id, idempotency_key=f"{self._key}:verified"),
                service="auth",
                result_type=MarkEmailVerifiedOutput,
            )
        return VerifyEmailResult(status=RegistrationStatus.verified)

    @verify_email.validator
    def _check_verify_email(self, input: VerifyEmailInput) -> None:
        self._gate.check(input.token_hash)

    @workflow.run
    async def run(self, input: RegistrationInput) -> RegistrationResult:
        info = workflow.info()
        user_id = str(workflow.uuid4())
        self._key = f"{info.workflow_id}:{info.run_id}"
        if not workflow.patched(EMAIL_VERIFICATION_PATCH):
            return await self._run_v1(input, user_id)

        self._progress = ProgressTracker(total=4)
        self._progress.advance(0, "creating credentials")
        try:
            await self._create_credentials(input, user_id)
            new_account = True
        except ActivityError as error:
            if _error_type(error) != EMAIL_TAKEN:
                self._progress.set_state(ProgressState.failed, "credentials could not be created")
                raise _as_business_failure(error) from error
            new_account = False

        # Progress and timing of both branches look alike: whoever signed up must not learn
        # whether the address already had an account. Its owner gets a notice instead.
        self._progress.advance(1, "creating profile")
        if new_account:
            await self._create_profile(input, user_id)
        self._progress.advance(2, "sending verification e-mail")
        if new_account:
            await self._send_verification(input, user_id)
        else:
            await self._send_mail(input.email, MailTemplate.registration_attempt, None, "notice")

        self._progress.advance(3, "waiting for e-mail verification", ProgressState.waiting)
        deadline = timedelta(seconds=input.verification_timeout_seconds)
        verified = await self._gate.wait(deadline)
        if not verified and new_account:
            # Not removed means verified meanwhile (a completed password reset proves it too).
            verified = not await self._remove_unverified(user_id)
        if verified:
            self._progress.advance(4, "e-mail verified", ProgressState.completed)
            return RegistrationResult(status=RegistrationStatus.verified, email=input.email)
        self._progress.advance(4, "verification expired", ProgressState.completed)
        return RegistrationResult(status=RegistrationStatus.expired, email=input.email)

    async def _run_v1(self, input: RegistrationInput, user_id: str) -> RegistrationResult:
        """The command sequence of runs started before e-mail verification existed."""
        self._progress.advance(0, "creating credentials")
        try:
            await self._create_credentials(input, user_id)
        except ActivityError as error:
            self._progress.set_state(ProgressState.failed, "credentials could not be created")
            raise _as_business_failure(error) from error
        self._progress.advance(1, "creating profile")
        await self._create_profile(input, user_id)
        self._progress.advance(2, "registered", ProgressState.completed)
        return RegistrationResult(
            status=RegistrationStatus.pending_verification,
            email=input.email,
            user_id=user_id,
            display_name=input.display_name,
        )

    async def _create_credentials(
        self, input: RegistrationInput, user_id: str
    ) -> CreateCredentialsOutput:
        return await call_activity(
            CREATE_CREDENTIALS,
            CreateCredentialsInput(
                user_id=user_id,
                email=input.email,
                password=input.password,
                idempotency_key=f"{self._key}:credentials",
            ),
            service="auth",
            result_type=CreateCredentialsOutput,
        )

    async def _create_profile(self, input: RegistrationInput, user_id: str) -> None:
        try:
            await call_activity(
                CREATE_PROFILE,
                CreateProfileInput(
                    user_id=user_id,
                    email=input.email,
                    display_name=input.display_name,
                    idempotency_key=f"{self._key}:profile",
                ),
                service="user",
                result_type=CreateProfileOutput,
            )
        except ActivityError as error:
            # Saga: undo the credentials so a failed sign-up leaves nothing behind.
            self._progress.set_state(ProgressState.compensating, "removing credentials")
            await self._delete_credentials(user_id, "credentials:undo")
            self._progress.set_state(ProgressState.failed, "profile could not be created")
            raise RegistrationFailed("registration failed and was rolled back") from error

    async def _send_verification(self, input: RegistrationInput, user_id: str) -> None:
        try:
            issued = await call_activity(
                ISSUE_ONE_TIME_TOKEN,
                IssueOneTimeTokenInput(
                    user_id=user_id,
                    purpose=TokenPurpose.verify_email,
                    ttl_seconds=input.verification_timeout_seconds,
                    workflow_id=workflow.info().workflow_id,
                    idempotency_key=f"{self._key}:verify-token",
                ),
                service="auth",
                result_type=IssueOneTimeTokenOutput,
            )
            self._gate.open()
            await self._send_mail(input.email, MailTemplate.verify_email, issued.token, "verify")
        except ActivityError as error:
            self._progress.set_state(ProgressState.compensating, "removing the account")
            await self._delete_credentials(user_id, "credentials:undo")
            await self._delete_profile(user_id)
            self._progress.set_state(ProgressState.failed, "verification e-mail could not be sent")
            raise RegistrationFailed("registration failed and was rolled back") from error

    async def _send_mail(self, to: str, template: str, token: str | None, step: str) -> None:
        await call_activity(
            SEND_EMAIL,
            SendEmailInput(
                to=to, template=template, token=token, idempotency_key=f"{self._key}:mail:{step}"
            ),
            service="auth",
            result_type=SendEmailOutput,
        )

    async def _remove_unverified(self, user_id: str) -> bool:
        """The deadline passed: remove the account unless it got verified meanwhile (a completed
        password reset proves the mailbox too); False when it was verified."""
        self._progress.set_state(ProgressState.compensating, "removing the unverified account")
        if not await self._delete_credentials(user_id, "credentials:expired"):
            return False
        await self._delete_profile(user_id)
        return True

    async def _delete_credentials(self, user_id: str, step: str) -> bool:
        outcome = await call_activity(
            DELETE_CREDENTIALS,
            DeleteCredentialsInput(user_id=user_id, idempotency_key=f"{self._key}:{step}"),
            service="auth",
            result_type=DeleteCredentialsOutput,
        )
        return outcome.deleted

    async def _delete_profile(self, user_id: str) -> None:
        await call_activity(
            DELETE_PROFILE,
            DeleteProfileInput(user_id=user_id, idempotency_key=f"{self._key}:profile:undo"),
            service="user",
            result_type=DeleteProfileOutput,
        )


def _error_type(error: ActivityError) -> str | None:
    cause = error.cause
    return cause.type if isinstance(cause, ApplicationError) else None


def _as_business_failure(error: ActivityError) -> ApplicationError:
    """Surface the activity's business error type (e.g. ``InvalidInput``) as the workflow's own."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return ApplicationError(cause.message, type=cause.type, non_retryable=True)
    return RegistrationFailed("registration failed")
