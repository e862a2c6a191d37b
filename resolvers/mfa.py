"""MFA operations, forwarded to the auth service: it owns the ``mfa_setup`` workflow and talks
to it with Temporal updates, so the gateway has nothing to orchestrate itself. Verifying,
disabling and replacing recovery codes are the auth service's own one-transaction writes
(rule: a mutation starts a workflow only when it spans services or steps), so they are direct."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from schema.auth import (
    AuthTokens,
    MfaActivation,
    MfaSetup,
    MfaStatus,
    RecoveryCodes,
    SecondFactorInput,
)
from services.auth.schemas import ActivateResponse, SetupResponse, TokenPair
from services.auth.schemas import MfaStatus as MfaStatusOut
from services.auth.schemas import RecoveryCodes as RecoveryCodesOut
from services.common.settings import ServiceName

if TYPE_CHECKING:
    from gateway.context import GatewayContext


def _factor(factor: SecondFactorInput) -> dict[str, str | None]:
    return {"code": factor.code, "recovery_code": factor.recovery_code}


async def resolve_start_mfa_setup(info: strawberry.Info[GatewayContext]) -> MfaSetup:
    body = await info.context.service(ServiceName.auth, signed_in=True).call(
        "POST", "/auth/mfa/setup", response=SetupResponse
    )
    return MfaSetup(**body.model_dump())


async def resolve_activate_mfa(info: strawberry.Info[GatewayContext], code: str) -> MfaActivation:
    body = await info.context.service(ServiceName.auth, signed_in=True).call(
        "POST", "/auth/mfa/activate", json={"code": code}, response=ActivateResponse
    )
    return MfaActivation(**body.model_dump())


async def resolve_verify_mfa(
    info: strawberry.Info[GatewayContext], mfa_token: str, factor: SecondFactorInput
) -> AuthTokens:
    pair = await info.context.service(ServiceName.auth).call(
        "POST",
        "/auth/mfa/verify",
        json={"mfa_token": mfa_token, **_factor(factor)},
        response=TokenPair,
    )
    return AuthTokens.of(pair)


async def resolve_disable_mfa(
    info: strawberry.Info[GatewayContext], factor: SecondFactorInput
) -> bool:
    await info.context.service(ServiceName.auth, signed_in=True).send(
        "POST", "/auth/mfa/disable", json=_factor(factor)
    )
    return True


async def resolve_regenerate_recovery_codes(
    info: strawberry.Info[GatewayContext], code: str
) -> RecoveryCodes:
    body = await info.context.service(ServiceName.auth, signed_in=True).call(
        "POST", "/auth/mfa/recovery-codes", json={"code": code}, response=RecoveryCodesOut
    )
    return RecoveryCodes(**body.model_dump())


async def resolve_mfa_status(info: strawberry.Info[GatewayContext]) -> MfaStatus:
    body = await info.context.service(ServiceName.auth, signed_in=True).call(
        "GET", "/auth/mfa", response=MfaStatusOut
    )
    return MfaStatus(**body.model_dump())
