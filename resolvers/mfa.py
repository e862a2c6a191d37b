"""MFA operations, forwarded to the auth service: it owns the ``mfa_setup`` workflow and talks
to it with Temporal updates, so the gateway has nothing to orchestrate itself. Verifying,
disabling and replacing recovery codes are the auth service's own one-transaction writes
(rule: a mutation starts a workflow only when it spans services or steps), so they are direct."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from resolvers.auth_calls import call_auth
from schema.auth import (
    AuthTokens,
    MfaActivation,
    MfaSetup,
    MfaStatus,
    RecoveryCodes,
    SecondFactorInput,
)

if TYPE_CHECKING:
    from gateway.context import GatewayContext


def _factor(factor: SecondFactorInput) -> dict[str, str | None]:
    return {"code": factor.code, "recovery_code": factor.recovery_code}


async def resolve_start_mfa_setup(info: strawberry.Info[GatewayContext]) -> MfaSetup:
    body = await call_auth(info, "POST", "/auth/mfa/setup", authenticated=True)
    return MfaSetup(
        workflow_id=strawberry.ID(body["workflow_id"]),
        secret=body["secret"],
        otpauth_uri=body["otpauth_uri"],
        expires_at=datetime.fromisoformat(body["expires_at"]),
    )


async def resolve_activate_mfa(info: strawberry.Info[GatewayContext], code: str) -> MfaActivation:
    body = await call_auth(
        info, "POST", "/auth/mfa/activate", json={"code": code}, authenticated=True
    )
    return MfaActivation(enabled=body["enabled"], recovery_codes=body["recovery_codes"])


async def resolve_verify_mfa(
    info: strawberry.Info[GatewayContext], mfa_token: str, factor: SecondFactorInput
) -> AuthTokens:
    body = await call_auth(
        info, "POST", "/auth/mfa/verify", json={"mfa_token": mfa_token, **_factor(factor)}
    )
    return AuthTokens.from_json(body)


async def resolve_disable_mfa(
    info: strawberry.Info[GatewayContext], factor: SecondFactorInput
) -> bool:
    await call_auth(info, "POST", "/auth/mfa/disable", json=_factor(factor), authenticated=True)
    return True


async def resolve_regenerate_recovery_codes(
    info: strawberry.Info[GatewayContext], code: str
) -> RecoveryCodes:
    body = await call_auth(
        info, "POST", "/auth/mfa/recovery-codes", json={"code": code}, authenticated=True
    )
    return RecoveryCodes(recovery_codes=body["recovery_codes"])


async def resolve_mfa_status(info: strawberry.Info[GatewayContext]) -> MfaStatus:
    body = await call_auth(info, "GET", "/auth/mfa", authenticated=True)
    return MfaStatus(enabled=body["enabled"], recovery_codes_left=body["recovery_codes_left"])
