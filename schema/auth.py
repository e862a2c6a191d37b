"""GraphQL types of authentication: sign-up input, tokens, login outcome, sessions, MFA, the
current principal."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.errors import NOT_FOUND, UserFacingError
from schema.users import (
    Checklist,
    Preferences,
    UserProfile,
    checked_id,
    checklist_of,
    preferences_of,
    profile_of,
)
from services.auth.schemas import SessionOut, TokenPair
from services.common.settings import ServiceName
from services.user.schemas import ChecklistOut


@strawberry.input
class LoginInput:
    email: str
    password: str
    tenant_id: strawberry.ID | None = None


@strawberry.type(description="A short-lived access token and its rotating refresh token.")
class AuthTokens:
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    session_id: strawberry.ID

    @classmethod
    def of(cls, pair: TokenPair) -> AuthTokens:
        """The auth service's ``TokenPair``, field for field (the same names)."""
        return cls(**pair.model_dump())


@strawberry.type(description="Tokens, or — with MFA on — a partial token for `verifyMfa`.")
class LoginResult:
    mfa_required: bool
    mfa_token: str | None
    tokens: AuthTokens | None


@strawberry.experimental.pydantic.type(model=SessionOut, all_fields=True)
class AuthSession:
    """The auth service's ``SessionOut``, its ids as GraphQL ids."""

    id: strawberry.ID
    tenant_id: strawberry.ID | None


@strawberry.type(description="The caller, as stated by their verified access token.")
class Me:
    user_id: strawberry.ID
    session_id: strawberry.ID
    tenant_id: strawberry.ID | None
    roles: list[str]
    auth_methods: list[str]

    @strawberry.field(
        description="Your whole profile, from the user service (GET /users/me; read once per "
        "operation)."
    )
    async def profile(self, info: strawberry.Info) -> UserProfile:
        return profile_of(await info.context.my_profile.load("me"))

    @strawberry.field(
        description="Your preferences from the user service: the user-level ones (every "
        "tenant), or with tenantId those of that tenant (your active tenant only)."
    )
    async def preferences(
        self, info: strawberry.Info, tenant_id: strawberry.ID | None = None
    ) -> Preferences:
        key = None if tenant_id is None else checked_id(tenant_id, "tenant id")
        return preferences_of(await info.context.my_preferences.load(key))

    @strawberry.field(
        description="Your profile-completion checklist in your active tenant (GET "
        "/users/me/checklist); null without an active tenant or a first-run set-up in it."
    )
    async def checklist(self, info: strawberry.Info) -> Checklist | None:
        users = info.context.service(ServiceName.user, signed_in=True)
        try:
            row = await users.call("GET", "/users/me/checklist", response=ChecklistOut)
        except UserFacingError as error:
            if (error.extensions or {}).get("code") == NOT_FOUND:
                return None
            raise
        return checklist_of(row)


@strawberry.type(description="An OpenID Connect provider users can sign in with.")
class SsoProvider:
    name: str
    start_path: str = strawberry.field(
        description="Path on the auth service that starts the browser sign-in."
    )


@strawberry.type(description="A TOTP secret to enrol in an authenticator app (shown once).")
class MfaSetup:
    workflow_id: strawberry.ID
    secret: str
    otpauth_uri: str
    expires_at: datetime


@strawberry.type(description="MFA is on; the recovery codes are shown this once.")
class MfaActivation:
    enabled: bool
    recovery_codes: list[str]


@strawberry.type(description="A fresh set of recovery codes, shown this once; older ones are void.")
class RecoveryCodes:
    recovery_codes: list[str]


@strawberry.type
class MfaStatus:
    enabled: bool
    recovery_codes_left: int


@strawberry.input(description="A TOTP code or, instead, one recovery code.")
class SecondFactorInput:
    code: str | None = None
    recovery_code: str | None = None


@strawberry.input(description="Start a sign-up.")
class SignUpInput:
    email: str
    password: str = strawberry.field(description="8-128 characters; 15 or more recommended.")
    display_name: str
