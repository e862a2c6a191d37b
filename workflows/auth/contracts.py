"""Contracts of the auth domain: its workflow names, its business error types, the typed
contracts of its sign-up, token and account activities (task queue ``<prefix>-auth``; MFA, SSO
and claims activities are in ``mfa_contracts``, ``sso_contracts``, ``principal_contracts``), and
the input rules every entry point shares (gateway, auth API, activities)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from email_validator import EmailNotValidError, validate_email

from workflows.common.contracts import ActivityContract

#: The service (task queue ``<prefix>-auth``) that runs every auth activity.
AUTH = "auth"


class AuthWorkflow:
    """Workflow type names, as histories record them (never renamed). Plain strings, so the
    SDK sees exactly what it always saw; start a workflow by its run method, not by these."""

    USER_REGISTRATION: Final = "user_registration"
    PASSWORD_RESET: Final = "password_reset"  # noqa: S105 - a workflow name
    MFA_SETUP: Final = "mfa_setup"
    SSO_AUTHENTICATION: Final = "sso_authentication"


class AuthError(StrEnum):
    """Stable ``ApplicationError.type`` values of auth's business failures: the HTTP layer
    and the gateway map them to responses, so a value never changes."""

    INVALID_INPUT = "InvalidInput"
    EMAIL_TAKEN = "EmailTaken"
    UNKNOWN_ACCOUNT = "UnknownAccount"
    #: Unknown, spent, expired, busy or closed: one answer, so the caller learns nothing more.
    INVALID_TOKEN = "InvalidToken"  # noqa: S105 - an error type
    REGISTRATION_FAILED = "RegistrationFailed"
    #: Retryable: another attempt of the same mail step holds its claim.
    MAIL_IN_FLIGHT = "MailInFlight"
    MFA_ALREADY_ENABLED = "MfaAlreadyEnabled"
    MFA_SETUP_NOT_FOUND = "MfaSetupNotFound"
    INVALID_CODE = "InvalidCode"
    MFA_TOO_MANY_ATTEMPTS = "MfaTooManyAttempts"
    MFA_SETUP_EXPIRED = "MfaSetupExpired"
    MFA_SETUP_CLOSED = "MfaSetupClosed"
    #: The provider refused, or its ID token failed validation.
    SSO_REJECTED = "SsoRejected"
    #: The e-mail has an account that may not be linked.
    SSO_ACCOUNT_EXISTS = "SsoAccountExists"
    #: No usable e-mail to create an account with.
    SSO_EMAIL_MISSING = "SsoEmailMissing"
    #: Unknown provider or inconsistent discovery.
    SSO_MISCONFIGURED = "SsoMisconfigured"
    #: A later step failed and the new account was rolled back.
    SSO_FAILED = "SsoFailed"


@dataclass
class CreateCredentialsInput:
    user_id: str
    email: str
    #: Runs started before the ``registration-run-per-sign-up`` patch only: the plaintext
    #: password (hashed by the activity). Newer runs pass ``None`` and ``password_hash``.
    password: str | None
    idempotency_key: str
    #: An argon2id hash made at the sign-up's edge (the activity re-checks its format).
    password_hash: str | None = None
    #: With ``password_hash``: the SHA-256 of the verification link this run mailed, as its
    #: clicker presented it. The account is created (verified) only with this proof.
    verification_token_hash: str | None = None


@dataclass
class CreateCredentialsOutput:
    user_id: str
    created: bool


CREATE_CREDENTIALS = ActivityContract(
    "auth.create_credentials", AUTH, CreateCredentialsInput, CreateCredentialsOutput
)


@dataclass
class SendRegistrationMailInput:
    """The mail one sign-up run owes its address: a verification link while the address has no
    account, else the "someone tried to sign up" notice to its owner. The activity decides, so
    whoever started the run learns nothing from the history they cannot read anyway."""

    email: str
    idempotency_key: str
    #: Only the notice, and only when the address has an account (verification found it taken).
    notice_only: bool = False


@dataclass
class SendRegistrationMailOutput:
    #: SHA-256 of the link token mailed (the raw token never leaves the activity); ``None``
    #: when the notice (or nothing) was sent instead.
    token_hash: str | None


SEND_REGISTRATION_MAIL = ActivityContract(
    "auth.send_registration_mail", AUTH, SendRegistrationMailInput, SendRegistrationMailOutput
)


@dataclass
class DeleteCredentialsInput:
    user_id: str
    idempotency_key: str


@dataclass
class DeleteCredentialsOutput:
    deleted: bool


DELETE_CREDENTIALS = ActivityContract(
    "auth.delete_credentials", AUTH, DeleteCredentialsInput, DeleteCredentialsOutput
)


# --- shared input rules ---------------------------------------------------------------------


class InvalidEmailError(ValueError):
    pass


def normalize_email(raw: str) -> str:
    """The one canonical form of an address (syntax only, no DNS): every entry point and
    activity uses it, so one person's address always maps to one row and one workflow id."""
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise InvalidEmailError(f"invalid e-mail address: {error}") from error


def address_digest(email: str) -> str:
    """A stable, non-revealing key for an address (workflow ids): the same for any spelling
    ``normalize_email`` would fold together in case and surrounding spaces."""
    raw = email.strip().lower().encode("utf-8", "surrogatepass")
    return hashlib.sha256(raw).hexdigest()[:32]


# --- one-time tokens and e-mail -------------------------------------------------------------


class TokenPurpose(StrEnum):
    verify_email = "verify_email"
    password_reset = "password_reset"  # noqa: S105 - a purpose name


class MailTemplate(StrEnum):
    verify_email = "verify_email"
    #: To the owner of an address someone tried to sign up with again.
    registration_attempt = "registration_attempt"
    password_reset = "password_reset"  # noqa: S105 - a template name


@dataclass
class IssueOneTimeTokenInput:
    user_id: str
    purpose: str
    ttl_seconds: float
    workflow_id: str
    idempotency_key: str


@dataclass
class IssueOneTimeTokenOutput:
    #: The token **sealed** for the mail step (``sealed:v1:...``, under the auth service's seal
    #: keys, bound to the purpose and this workflow): the workflow only hands it on, send_email
    #: opens it for the mail body; the database keeps its SHA-256. Runs started before sealing
    #: recorded the raw token here.
    token: str


ISSUE_ONE_TIME_TOKEN = ActivityContract(
    "auth.issue_one_time_token", AUTH, IssueOneTimeTokenInput, IssueOneTimeTokenOutput
)


@dataclass
class MailResetLinkInput:
    """Issue a password-reset token and mail its link in one step: the token never leaves the
    activity (runs started before the ``reset-link-minted-in-mail-step`` patch issue and mail
    in two steps, the token sealed in between)."""

    user_id: str
    #: The account's own address (the activity checks it is).
    to: str
    ttl_seconds: float
    #: The step's key: the mail is sent once under it, the token issued under ``<key>:token``.
    idempotency_key: str


@dataclass
class MailResetLinkOutput:
    #: False when an earlier attempt of this step had mailed the link already.
    sent: bool


MAIL_RESET_LINK = ActivityContract(
    "auth.mail_reset_link", AUTH, MailResetLinkInput, MailResetLinkOutput
)


@dataclass
class ConsumeOneTimeTokenInput:
    token_hash: str
    purpose: str
    workflow_id: str


@dataclass
class ConsumeOneTimeTokenOutput:
    #: The token's user when this call spent it; ``None`` for unknown, spent or expired.
    user_id: str | None


CONSUME_ONE_TIME_TOKEN = ActivityContract(
    "auth.consume_one_time_token", AUTH, ConsumeOneTimeTokenInput, ConsumeOneTimeTokenOutput
)


@dataclass
class SendEmailInput:
    to: str
    template: str
    idempotency_key: str
    #: The sealed link token from ``IssueOneTimeTokenOutput`` (raw in runs from before sealing).
    token: str | None = None


@dataclass
class SendEmailOutput:
    #: False when this key had been sent already (a retried step).
    sent: bool


SEND_EMAIL = ActivityContract("auth.send_email", AUTH, SendEmailInput, SendEmailOutput)


# --- account changes ------------------------------------------------------------------------


@dataclass
class FindAccountInput:
    email: str


@dataclass
class FindAccountOutput:
    user_id: str | None


FIND_ACCOUNT = ActivityContract("auth.find_account", AUTH, FindAccountInput, FindAccountOutput)


@dataclass
class MarkEmailVerifiedInput:
    user_id: str
    idempotency_key: str


@dataclass
class MarkEmailVerifiedOutput:
    #: False when it was verified already.
    changed: bool


MARK_EMAIL_VERIFIED = ActivityContract(
    "auth.mark_email_verified", AUTH, MarkEmailVerifiedInput, MarkEmailVerifiedOutput
)


@dataclass
class SetPasswordInput:
    user_id: str
    #: An argon2id hash made by the auth API: the new password itself never enters a workflow.
    password_hash: str
    reason: str
    idempotency_key: str


@dataclass
class SetPasswordOutput:
    changed: bool


SET_PASSWORD = ActivityContract("auth.set_password", AUTH, SetPasswordInput, SetPasswordOutput)


@dataclass
class RevokeSessionsInput:
    user_id: str
    reason: str
    idempotency_key: str
    #: A session to leave open (the one that made the change); None revokes every session.
    keep_session_id: str | None = None


@dataclass
class RevokeSessionsOutput:
    revoked: int


REVOKE_SESSIONS = ActivityContract(
    "auth.revoke_sessions", AUTH, RevokeSessionsInput, RevokeSessionsOutput
)
