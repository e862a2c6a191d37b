"""Activity contracts of MFA setup (task queue ``<prefix>-auth``) and its business error types."""

from __future__ import annotations

from dataclasses import dataclass, field

CREATE_TOTP_SECRET = "auth.create_totp_secret"  # noqa: S105 - an activity name
VERIFY_TOTP = "auth.verify_totp"
ENABLE_MFA = "auth.enable_mfa"
DELETE_TOTP_SECRET = "auth.delete_totp_secret"  # noqa: S105 - an activity name

# Stable ``ApplicationError.type`` values; the HTTP layer maps them to responses.
MFA_ALREADY_ENABLED = "MfaAlreadyEnabled"
MFA_SETUP_NOT_FOUND = "MfaSetupNotFound"
INVALID_CODE = "InvalidCode"
TOO_MANY_ATTEMPTS = "MfaTooManyAttempts"
SETUP_EXPIRED = "MfaSetupExpired"
SETUP_CLOSED = "MfaSetupClosed"


@dataclass
class CreateTotpSecretInput:
    user_id: str
    #: Also the identity of the pending secret: later steps act only on the secret with this key.
    idempotency_key: str


@dataclass
class CreateTotpSecretOutput:
    #: Both sealed for the user (``sealed:v1:...``); raw in runs from before sealing.
    secret: str
    otpauth_uri: str
    created: bool


@dataclass
class VerifyTotpInput:
    """Check ``code`` against the pending secret written under ``setup_key`` (read-only)."""

    user_id: str
    setup_key: str
    #: Sealed by the auth API (raw 6 digits from callers before sealing are still accepted).
    code: str


@dataclass
class VerifyTotpOutput:
    valid: bool
    #: The time step the code belongs to; enable_mfa records it as used.
    step: int | None = None


@dataclass
class EnableMfaInput:
    user_id: str
    setup_key: str
    step: int
    idempotency_key: str


@dataclass
class EnableMfaOutput:
    #: Shown to the user once, each sealed until the auth API opens it; only hashes are stored.
    recovery_codes: list[str] = field(default_factory=list)


@dataclass
class DeleteTotpSecretInput:
    user_id: str
    setup_key: str
    reason: str
    idempotency_key: str


@dataclass
class DeleteTotpSecretOutput:
    deleted: bool
