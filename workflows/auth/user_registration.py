"""``user_registration``: one run per sign-up. It mails its address a verification link (or, if
the address has an account, a notice to its owner) and waits until a deadline; only when its own
link is redeemed does it create the account (profile, then verified credentials with the
password hash *this* run was started with). Several runs may wait for one address: the first
one verified owns it, a later one ends as ``address_taken`` (its clicker gets the notice mail).
Nothing that depends on the address's state happens before the sign-up is answered.

Versions (``workflow.patched``):
- v1 (before ``registration-email-verification``): credentials + profile, no mail.
- v2 (before ``registration-run-per-sign-up``): one run per address (id from the address,
  a second sign-up joined it), plaintext password in the input, credentials and profile created
  before the mail and removed at the deadline.
- v3: as above.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.auth.contracts import (
        CREATE_CREDENTIALS,
        DELETE_CREDENTIALS,
        ISSUE_ONE_TIME_TOKEN,
        MARK_EMAIL_VERIFIED,
        SEND_EMAIL,
        SEND_REGISTRATION_MAIL,
        AuthError,
        AuthWorkflow,
        CreateCredentialsInput,
        CreateCredentialsOutput,
        DeleteCredentialsInput,
        InvalidEmailError,
        IssueOneTimeTokenInput,
        MailTemplate,
        MarkEmailVerifiedInput,
        SendEmailInput,
        SendRegistrationMailInput,
        TokenPurpose,
        address_digest,
        normalize_email,
    )
    from workflows.auth.password_policy import PasswordPolicyError, check_policy
    from workflows.auth.token_gate import TokenGate, invalid_token
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.user.contracts import (
        CREATE_PROFILE,
        DELETE_PROFILE,
        CreateProfileInput,
        DeleteProfileInput,
    )

if TYPE_CHECKING:
    from temporalio.client import Client

VERIFY_EMAIL_UPDATE = "verify_email"
#: Read-only (queries are not recorded in history): what ``POST /auth/verify-email`` needs to
#: check the password of a contested sign-up. No ``workflow.patched`` needed for a new handler.
SIGN_UP_SECRET_QUERY = "registration_sign_up_secret"  # noqa: S105 (a query name)
EMAIL_VERIFICATION_PATCH = "registration-email-verification"
PER_SIGN_UP_PATCH = "registration-run-per-sign-up"
#: Workflow ids of v3 runs: ``user-registration-<address digest>-<random nonce>``.
RUN_ID_PREFIX = "user-registration-"
#: Only for starters that pass nothing; the gateway and the auth API pass the setting.
DEFAULT_VERIFICATION_SECONDS = 48 * 3600.0
DISPLAY_NAME_MAX = 200


class RegistrationStatus(StrEnum):
    pending_verification = "pending_verification"  # v1 runs only
    verified = "verified"
    expired = "expired"
    #: v3: this run's link was redeemed after another run (or account) took the address.
    address_taken = "address_taken"
    #: v3, answer of ``verify_email`` only: the account could not be created (the run fails).
    failed = "failed"


@dataclass
class RegistrationInput:
    email: str
    #: v1/v2 runs only (started before ``registration-run-per-sign-up``): the plaintext
    #: password. A v3 run refuses an input that carries one.
    password: str | None = None
    display_name: str = ""
    #: How long the link may wait for its click (``ADX_AUTH_VERIFICATION_HOURS``, in seconds).
    verification_timeout_seconds: float = DEFAULT_VERIFICATION_SECONDS
    #: v3: the argon2id hash of the password, made by the entry point before the run exists.
    password_hash: str | None = None


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


@dataclass
class SignUpSecret:
    """Answer of ``SIGN_UP_SECRET_QUERY`` to the auth service: the run's own input (its address
    and password hash, already in its history) and run id, so the caller can check the link's
    MAC and a password typed at the click without the password entering any payload."""

    run_id: str
    email: str
    password_hash: str


class InvalidRegistrationError(ValueError):
    """A sign-up rejected before any workflow exists; the message is fit for a form."""


def registration_input(
    email: str, password: str, display_name: str, *, verification_timeout_seconds: float
) -> RegistrationInput:
    """The one validation of a sign-up, shared by the gateway's ``signUp`` and ``POST
    /auth/register``; the activities check again, since anyone may start the workflow. The
    password is checked, not kept: ``services.common.registration`` adds its hash."""
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
        display_name=name,
        verification_timeout_seconds=verification_timeout_seconds,
    )


def registration_workflow_id(email: str) -> str:
    """The id of v2 runs (one per address, no longer started), and the stem of v3 ids."""
    return f"{RUN_ID_PREFIX}{address_digest(email)}"


def new_registration_id(email: str) -> str:
    """A fresh id for one sign-up: ``user-registration-<address digest>-<random>``. The digest
    (the same one v2 ids were) binds the run to its address for the activities (a run mails
    only the address it was started for); the random part makes every sign-up its own run."""
    return f"{registration_workflow_id(email)}-{uuid.uuid4().hex}"


def is_registration_for(workflow_id: str, email: str) -> bool:
    """Whether ``workflow_id`` is a v3 registration run started for ``email``."""
    stem = f"{registration_workflow_id(email)}-"
    nonce = workflow_id.removeprefix(stem)
    return nonce != workflow_id and len(nonce) == 32 and all(c in "0123456789abcdef" for c in nonce)


async def start_registration(
    client: Client, task_queue: str, registration: RegistrationInput
) -> str:
    """Start a new run for a validated, hashed sign-up and return its workflow id. Every call
    starts its own run, whatever runs or account the address already has: nothing here depends
    on the address's state, so the answer and its timing are the same for all."""
    if registration.password is not None or not registration.password_hash:
        raise ValueError("a sign-up starts with the password's hash, never the password")
    workflow_id = new_registration_id(registration.email)
    await client.start_workflow(
        UserRegistrationWorkflow.run, registration, id=workflow_id, task_queue=task_queue
    )
    return workflow_id


def hashed(registration: RegistrationInput, password_hash: str) -> RegistrationInput:
    return replace(registration, password=None, password_hash=password_hash)


class RegistrationFailed(ApplicationError):
    def __init__(self, message: str) -> None:
        super().__init__(message, type=AuthError.REGISTRATION_FAILED, non_retryable=True)


@workflow.defn(name=AuthWorkflow.USER_REGISTRATION)
class UserRegistrationWorkflow:
    def __init__(self) -> None:
        self._progress = ProgressTracker(total=2)
        self._gate = TokenGate(TokenPurpose.verify_email)
        self._key = ""
        # v3 (one run per sign-up): the run's input and future user id, the SHA-256 of the link
        # it mailed, and how its redemption ended.
        self._per_sign_up = False
        self._input = RegistrationInput(email="")
        self._user_id = ""
        self._link_hash = ""
        #: While the mail step runs: its mail may be clicked before its result arrives.
        self._mailing = False
        self._outcome: str | None = None
        self._failure: ApplicationError | None = None

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.query(name=SIGN_UP_SECRET_QUERY)
    def sign_up_secret(self, token_hash: str) -> SignUpSecret | None:
        """v3 runs whose link may still be redeemed, asked with that link's SHA-256 (any other
        hash, or a run that has no link, is done or is not v3, answers None). While the mail
        step runs the link is not known yet: the caller checks the link's MAC against the run id
        either way (``services/auth/registration/links.py``)."""
        gate = self._gate
        if not self._per_sign_up or not self._input.password_hash:
            return None
        if gate.closed or gate.passed:
            return None
        if self._mailing:
            well_formed = len(token_hash) == 64 and all(c in "0123456789abcdef" for c in token_hash)
            if not well_formed:
                return None
        elif not self._link_hash or not hmac.compare_digest(token_hash, self._link_hash):
            return None
        return SignUpSecret(
            run_id=workflow.info().run_id,
            email=self._input.email,
            password_hash=self._input.password_hash,
        )

    @workflow.update(name=VERIFY_EMAIL_UPDATE)
    async def verify_email(self, input: VerifyEmailInput) -> VerifyEmailResult:
        """Sent by ``POST /auth/verify-email`` with the SHA-256 of the token from the mail."""
        if self._per_sign_up:
            return await self._verify_per_sign_up(input.token_hash)
        async with self._gate.redeem(input.token_hash) as user_id:
            self._progress.set_state(ProgressState.running, "verifying e-mail")
            await MARK_EMAIL_VERIFIED.execute(
                MarkEmailVerifiedInput(user_id=user_id, idempotency_key=f"{self._key}:verified")
            )
        return VerifyEmailResult(status=RegistrationStatus.verified)

    @verify_email.validator
    def _check_verify_email(self, input: VerifyEmailInput) -> None:
        if self._per_sign_up:
            self._check_link(input.token_hash)
        else:
            self._gate.check(input.token_hash)

    def _check_link(self, token_hash: str) -> None:
        """v3: only the link this run mailed opens it (another run's link, for the same address,
        is refused like an unknown one). While the mail step is still running its link may
        already be in the mailbox: the update is let in and checked once the step is done."""
        gate = self._gate
        if self._mailing:
            well_formed = len(token_hash) == 64 and all(c in "0123456789abcdef" for c in token_hash)
            if not well_formed or gate.closed or gate.busy or gate.passed:
                raise invalid_token()
            return
        gate.check(token_hash)
        if not self._link_hash or not hmac.compare_digest(token_hash, self._link_hash):
            raise invalid_token()

    @workflow.run
    async def run(self, input: RegistrationInput) -> RegistrationResult:
        info = workflow.info()
        user_id = str(workflow.uuid4())
        self._key = f"{info.workflow_id}:{info.run_id}"
        if not workflow.patched(EMAIL_VERIFICATION_PATCH):
            return await self._run_v1(input, user_id)
        if workflow.patched(PER_SIGN_UP_PATCH):
            return await self._run_per_sign_up(input, user_id)

        self._progress = ProgressTracker(total=4)
        self._progress.advance(0, "creating credentials")
        try:
            await self._create_credentials(input, user_id)
            new_account = True
        except ActivityError as error:
            if _error_type(error) != AuthError.EMAIL_TAKEN:
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

    async def _run_per_sign_up(self, input: RegistrationInput, user_id: str) -> RegistrationResult:
        """v3: mail first, create the account only when this run's own link is redeemed."""
        self._per_sign_up, self._input, self._user_id = True, input, user_id
        # The shape of v2's progress (waiting is step 3 of 4, done is 4 of 4), for the clients.
        self._progress = ProgressTracker(total=4)
        if input.password is not None or not input.password_hash:
            self._progress.set_state(ProgressState.failed, "sign-up not accepted")
            raise ApplicationError(
                "a sign-up carries the password's hash, never the password",
                type=AuthError.INVALID_INPUT,
                non_retryable=True,
            )
        # The same steps and labels whether or not the address has an account: the activity
        # mails a link, or the notice to the address's owner, and the run waits either way.
        self._progress.advance(0, "sending verification e-mail")
        self._mailing = True
        try:
            sent = await SEND_REGISTRATION_MAIL.execute(
                SendRegistrationMailInput(
                    email=input.email, idempotency_key=f"{self._key}:mail:registration"
                )
            )
        except ActivityError as error:
            self._progress.set_state(ProgressState.failed, "verification e-mail could not be sent")
            raise _as_business_failure(error) from error
        finally:
            self._mailing = False
        if sent.token_hash:
            self._link_hash = sent.token_hash
            self._gate.open()

        self._progress.advance(3, "waiting for e-mail verification", ProgressState.waiting)
        await self._gate.wait(timedelta(seconds=input.verification_timeout_seconds))
        if self._failure is not None:
            raise self._failure
        if self._outcome == RegistrationStatus.verified:
            self._progress.advance(4, "e-mail verified", ProgressState.completed)
            return RegistrationResult(status=RegistrationStatus.verified, email=input.email)
        if self._outcome == RegistrationStatus.address_taken:
            # Whoever clicked holds the mailbox: its owner hears how to get in.
            await SEND_REGISTRATION_MAIL.execute(
                SendRegistrationMailInput(
                    email=input.email,
                    idempotency_key=f"{self._key}:mail:notice",
                    notice_only=True,
                )
            )
            self._progress.advance(4, "address already registered", ProgressState.completed)
            return RegistrationResult(status=RegistrationStatus.address_taken, email=input.email)
        self._progress.advance(4, "verification expired", ProgressState.completed)
        return RegistrationResult(status=RegistrationStatus.expired, email=input.email)

    async def _verify_per_sign_up(self, token_hash: str) -> VerifyEmailResult:
        """v3 redemption: one at a time (``busy`` is set before the first await); afterwards the
        gate has passed whatever the outcome, and the run ends."""
        await workflow.wait_condition(lambda: not self._mailing)
        self._check_link(token_hash)
        self._gate.busy = True
        try:
            self._progress.set_state(ProgressState.running, "creating account")
            outcome = await self._create_account(token_hash)
        except RegistrationFailed as error:
            # For good (the input was bad): the clicker is told, the run fails after answering.
            self._failure = error
            outcome = RegistrationStatus.failed
        finally:
            self._gate.busy = False
        self._outcome = outcome
        self._gate.passed = True
        return VerifyEmailResult(status=outcome)

    async def _create_account(self, token_hash: str) -> str:
        """Profile, then verified credentials with this run's hash (the activity checks the
        redeemed link was the one mailed for this run). The address taken meanwhile undoes the
        profile and answers ``address_taken``."""
        input, user_id = self._input, self._user_id
        try:
            await self._call_create_profile(input, user_id)
        except ActivityError as error:
            self._progress.set_state(ProgressState.failed, "profile could not be created")
            raise RegistrationFailed("registration failed") from error
        try:
            await self._create_credentials(input, user_id, verified_by=token_hash)
        except ActivityError as error:
            self._progress.set_state(ProgressState.compensating, "removing the profile")
            await self._delete_profile(user_id)
            if _error_type(error) == AuthError.EMAIL_TAKEN:
                return RegistrationStatus.address_taken
            self._progress.set_state(ProgressState.failed, "credentials could not be created")
            raise RegistrationFailed("registration failed and was rolled back") from error
        return RegistrationStatus.verified

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
        self,
        input: RegistrationInput,
        user_id: str,
        *,
        verified_by: str | None = None,
    ) -> CreateCredentialsOutput:
        """v1/v2: the input's plaintext password. v3 (``verified_by``, the redeemed link's
        hash): no plaintext, the input's password hash."""
        if verified_by is None:
            password, password_hash = input.password, None
        else:
            password, password_hash = None, input.password_hash
        return await CREATE_CREDENTIALS.execute(
            CreateCredentialsInput(
                user_id=user_id,
                email=input.email,
                password=password,
                idempotency_key=f"{self._key}:credentials",
                password_hash=password_hash,
                verification_token_hash=verified_by,
            )
        )

    async def _call_create_profile(self, input: RegistrationInput, user_id: str) -> None:
        await CREATE_PROFILE.execute(
            CreateProfileInput(
                user_id=user_id,
                email=input.email,
                display_name=input.display_name,
                idempotency_key=f"{self._key}:profile",
            )
        )

    async def _create_profile(self, input: RegistrationInput, user_id: str) -> None:
        try:
            await self._call_create_profile(input, user_id)
        except ActivityError as error:
            # Saga: undo the credentials so a failed sign-up leaves nothing behind.
            self._progress.set_state(ProgressState.compensating, "removing credentials")
            await self._delete_credentials(user_id, "credentials:undo")
            self._progress.set_state(ProgressState.failed, "profile could not be created")
            raise RegistrationFailed("registration failed and was rolled back") from error

    async def _send_verification(self, input: RegistrationInput, user_id: str) -> None:
        try:
            issued = await ISSUE_ONE_TIME_TOKEN.execute(
                IssueOneTimeTokenInput(
                    user_id=user_id,
                    purpose=TokenPurpose.verify_email,
                    ttl_seconds=input.verification_timeout_seconds,
                    workflow_id=workflow.info().workflow_id,
                    idempotency_key=f"{self._key}:verify-token",
                )
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
        await SEND_EMAIL.execute(
            SendEmailInput(
                to=to, template=template, token=token, idempotency_key=f"{self._key}:mail:{step}"
            )
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
        outcome = await DELETE_CREDENTIALS.execute(
            DeleteCredentialsInput(user_id=user_id, idempotency_key=f"{self._key}:{step}")
        )
        return outcome.deleted

    async def _delete_profile(self, user_id: str) -> None:
        await DELETE_PROFILE.execute(
            DeleteProfileInput(user_id=user_id, idempotency_key=f"{self._key}:profile:undo")
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
