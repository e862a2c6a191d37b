"""The auth domain's root fields: sessions, registration, password reset, MFA, SSO."""

from __future__ import annotations

import strawberry

from resolvers.auth import (
    resolve_login,
    resolve_logout,
    resolve_me,
    resolve_my_sessions,
    resolve_refresh,
    resolve_revoke_session,
    resolve_sso_providers,
)
from resolvers.mfa import (
    resolve_activate_mfa,
    resolve_disable_mfa,
    resolve_mfa_status,
    resolve_regenerate_recovery_codes,
    resolve_start_mfa_setup,
    resolve_verify_mfa,
)
from resolvers.password_reset import resolve_confirm_password_reset, resolve_request_password_reset
from resolvers.registration import resolve_sign_up, resolve_verify_email
from schema.auth import (
    AuthSession,
    AuthTokens,
    LoginResult,
    Me,
    MfaActivation,
    MfaSetup,
    MfaStatus,
    RecoveryCodes,
    SsoProvider,
)
from schema.workflow_runs import WorkflowRun


@strawberry.type
class AuthQuery:
    me: Me = strawberry.field(resolver=resolve_me, description="The signed-in caller.")
    my_sessions: list[AuthSession] = strawberry.field(
        resolver=resolve_my_sessions, description="The caller's active sessions."
    )
    sso_providers: list[SsoProvider] = strawberry.field(
        resolver=resolve_sso_providers, description="Configured OpenID Connect providers."
    )
    mfa_status: MfaStatus = strawberry.field(
        resolver=resolve_mfa_status, description="Whether the caller has MFA on."
    )


@strawberry.type
class AuthMutation:
    sign_up: WorkflowRun = strawberry.mutation(
        resolver=resolve_sign_up, description="Start registering a new user (a workflow)."
    )
    verify_email: bool = strawberry.mutation(
        resolver=resolve_verify_email, description="Confirm an e-mail address with its link token."
    )
    request_password_reset: bool = strawberry.mutation(
        resolver=resolve_request_password_reset,
        description="E-mail a reset link if the address has an account (answers true either way).",
    )
    confirm_password_reset: bool = strawberry.mutation(
        resolver=resolve_confirm_password_reset,
        description="Set a new password with a reset token; ends every session.",
    )
    login: LoginResult = strawberry.mutation(
        resolver=resolve_login, description="Sign in with e-mail and password."
    )
    refresh_session: AuthTokens = strawberry.mutation(
        resolver=resolve_refresh, description="Trade a refresh token for a new token pair."
    )
    logout: bool = strawberry.mutation(
        resolver=resolve_logout, description="End this session, or all of the caller's."
    )
    revoke_session: bool = strawberry.mutation(
        resolver=resolve_revoke_session, description="End one of the caller's sessions."
    )
    start_mfa_setup: MfaSetup = strawberry.mutation(
        resolver=resolve_start_mfa_setup, description="Begin TOTP enrolment (a workflow)."
    )
    activate_mfa: MfaActivation = strawberry.mutation(
        resolver=resolve_activate_mfa, description="Confirm enrolment with a current code."
    )
    verify_mfa: AuthTokens = strawberry.mutation(
        resolver=resolve_verify_mfa, description="Complete a login that answered mfaRequired."
    )
    disable_mfa: bool = strawberry.mutation(
        resolver=resolve_disable_mfa,
        description="Turn MFA off (needs a current code); ends the caller's other sessions.",
    )
    regenerate_recovery_codes: RecoveryCodes = strawberry.mutation(
        resolver=resolve_regenerate_recovery_codes,
        description="Replace the recovery codes (needs a current TOTP code); ends the caller's "
        "other sessions.",
    )
