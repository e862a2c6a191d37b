"""The auth service's HTTP contract: request and response models and their field types, pydantic
only. The routes declare them and the gateway validates the answers it gets with them, so the
REST and GraphQL shapes cannot drift; nothing here imports the service's runtime code.

Field types: generous bounds that only stop abuse (the real rules — e-mail syntax, password
policy — are checked where they apply, with messages a form can show). The OpenAPI document
states those real rules too (``json_schema_extra``: documented, enforced by the code that applies
them, not by pydantic), so a client or schemathesis knows what is valid: an e-mail address is at
most 254 characters (RFC 5321), a new password 8-128, a display name 1-200 printable characters,
a token base64url, an e-mail address without control characters (sign-up and reset refuse them
as invalid addresses, login as characters the database cannot store)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from workflows.auth.password_policy import MAX_LENGTH, MIN_LENGTH
from workflows.auth.user_registration import DISPLAY_NAME_MAX

# -- field types ---------------------------------------------------------------------------------

#: No C0 control character and no DEL.
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"

Email = Annotated[
    str,
    Field(
        min_length=1,
        max_length=320,
        json_schema_extra={
            "format": "email",
            "maxLength": 254,
            "pattern": NO_CONTROL_CHARACTERS,
        },
    ),
]
#: Any length up to a bound: at login an over-long guess is just a wrong password.
Password = Annotated[str, Field(min_length=1, max_length=1024)]
#: A password being chosen: the policy (``check_policy``) enforces its length with a message a
#: form can show, and refuses the most common passwords (which no schema can list).
NewPassword = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1024,
        json_schema_extra={"minLength": MIN_LENGTH, "maxLength": MAX_LENGTH},
    ),
]
#: Stripped, then 1-200 characters, all printable (``registration_input``).
DisplayName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1000,
        json_schema_extra={
            "maxLength": DISPLAY_NAME_MAX,
            "pattern": r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
        },
    ),
]
#: Refresh, verification and reset tokens (43 characters when issued, base64url; verification
#: links of per-sign-up runs 107). Anything else is simply not a token: refused as unknown.
OpaqueToken = Annotated[
    str,
    Field(min_length=16, max_length=200, json_schema_extra={"pattern": r"^[A-Za-z0-9_-]+$"}),
]


# -- sign-in, tokens and sessions (routes.py) ----------------------------------------------------


class IssuedTokenPair(Protocol):
    """What ``TokenPair.of`` reads (``services.auth.sessions.IssuedTokens`` is one)."""

    @property
    def access_token(self) -> str: ...
    @property
    def refresh_token(self) -> str: ...
    @property
    def expires_in(self) -> int: ...
    @property
    def session_id(self) -> str: ...


class LoginRequest(BaseModel):
    email: Email
    password: Password
    tenant_id: uuid.UUID | None = None


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    session_id: str

    @classmethod
    def of(cls, tokens: IssuedTokenPair) -> TokenPair:
        return cls(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_in=tokens.expires_in,
            session_id=tokens.session_id,
        )


class LoginResponse(BaseModel):
    """Either a token pair, or ``mfa_required`` with a partial token for ``/auth/mfa/verify``."""

    mfa_required: bool = False
    mfa_token: str | None = None
    tokens: TokenPair | None = None


class RefreshRequest(BaseModel):
    refresh_token: OpaqueToken


class LogoutRequest(BaseModel):
    all_sessions: StrictBool = False  # a JSON boolean, not "yes" or 1


class SessionOut(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    auth_methods: list[str]
    user_agent: str | None
    ip: str | None
    current: bool


class Me(BaseModel):
    user_id: str
    session_id: str
    tenant_id: str | None
    roles: list[str]
    auth_methods: list[str]


# -- tenant switching (switching/routes.py) --------------------------------------------------------


class SwitchTenantRequest(BaseModel):
    tenant_id: uuid.UUID


class TenantSwitch(BaseModel):
    """The session is now in ``tenant_id``: a new access token for it (the refresh token the
    client holds stays valid and now yields tokens for this tenant), and the bookkeeping run
    (``tenant_switching``) the switch started, if it could be started."""

    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    session_id: str
    tenant_id: uuid.UUID
    roles: list[str]
    permissions: list[str]
    workflow_id: str | None = None


# -- registration (registration/routes.py) --------------------------------------------------------


class RegisterRequest(BaseModel):
    email: Email
    password: NewPassword
    display_name: DisplayName


class RegistrationAccepted(BaseModel):
    """Follow the run with the gateway's ``workflowRun``/``workflowProgress`` and this id."""

    workflow_id: str
    status: str = "accepted"


class VerifyEmailRequest(BaseModel):
    token: OpaqueToken
    #: Needed only when the address is contested (more than one sign-up within the
    #: verification window): the password typed at the sign-up whose link this is.
    password: Password | None = None


class VerifyEmailResponse(BaseModel):
    status: str


# -- password reset (password_reset/routes.py) ----------------------------------------------------


class ResetRequest(BaseModel):
    email: Email


class ResetRequested(BaseModel):
    status: str = "accepted"
    detail: str = "If an account exists for this address, a reset link is on its way."


class ResetConfirm(BaseModel):
    token: OpaqueToken
    new_password: NewPassword


class ResetDone(BaseModel):
    status: str


# -- MFA (mfa/routes.py) -----------------------------------------------------------------------

TotpCode = Annotated[
    str, Field(pattern=r"^[0-9]{6}$", description="The 6-digit code of the authenticator app.")
]
RecoveryCode = Annotated[str, Field(min_length=16, max_length=64)]
#: A compact JWS is base64url parts joined by dots; anything else is refused before decoding.
MfaToken = Annotated[str, Field(min_length=1, max_length=4096, pattern=r"^[A-Za-z0-9_.-]+$")]


class SetupResponse(BaseModel):
    workflow_id: str
    secret: str
    otpauth_uri: str
    expires_at: datetime


class ActivateRequest(BaseModel):
    code: TotpCode


class ActivateResponse(BaseModel):
    enabled: bool = True
    #: Shown this once; each works once in place of a TOTP code.
    recovery_codes: list[str]


class SecondFactor(BaseModel):
    """Exactly one of a TOTP code or a recovery code."""

    model_config = ConfigDict(
        extra="forbid",
        # What ``_exactly_one`` enforces, stated in the OpenAPI document.
        json_schema_extra={
            "oneOf": [
                {"required": ["code"], "properties": {"code": {"type": "string"}}},
                {
                    "required": ["recovery_code"],
                    "properties": {"recovery_code": {"type": "string"}},
                },
            ]
        },
    )

    code: TotpCode | None = None
    recovery_code: RecoveryCode | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecondFactor:
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("send exactly one of code or recovery_code")
        return self


class VerifyRequest(SecondFactor):
    mfa_token: MfaToken


class RegenerateRequest(BaseModel):
    """Only a current TOTP code: a recovery code must not be able to mint new ones."""

    model_config = ConfigDict(extra="forbid")

    code: TotpCode


class RecoveryCodes(BaseModel):
    #: Shown this once; every earlier code stopped working.
    recovery_codes: list[str]


class MfaStatus(BaseModel):
    enabled: bool
    recovery_codes_left: int


# -- single sign-on (sso/routes.py) -------------------------------------------------------------


class SsoProviderOut(BaseModel):
    name: str


class SsoSignInResponse(BaseModel):
    """Either a token pair, or ``mfa_required`` with a partial token for ``/auth/mfa/verify``."""

    user_id: str
    outcome: Literal["created", "linked", "returning"]
    mfa_required: bool = False
    mfa_token: str | None = None
    tokens: TokenPair | None = None
    redirect_after: str | None = None
