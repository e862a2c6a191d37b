"""Activity contracts of MFA setup (auth service, task queue ``<prefix>-auth``); its error
types are ``AuthError.MFA_*`` and ``AuthError.INVALID_CODE`` (``workflows/auth/contracts.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.auth.contracts import AUTH
from workflows.common.contracts import ActivityContract


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


CREATE_TOTP_SECRET = ActivityContract(
    "auth.create_totp_secret", AUTH, CreateTotpSecretInput, CreateTotpSecretOutput
)


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


VERIFY_TOTP = ActivityContract("auth.verify_totp", AUTH, VerifyTotpInput, VerifyTotpOutput)


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


ENABLE_MFA = ActivityContract("auth.enable_mfa", AUTH, EnableMfaInput, EnableMfaOutput)


@dataclass
class DeleteTotpSecretInput:
    user_id: str
    setup_key: str
    reason: str
    idempotency_key: str


@dataclass
class DeleteTotpSecretOutput:
    deleted: bool


DELETE_TOTP_SECRET = ActivityContract(
    "auth.delete_totp_secret", AUTH, DeleteTotpSecretInput, DeleteTotpSecretOutput
)
