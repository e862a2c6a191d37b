"""MFA HTTP API. Setup and activation run through the ``mfa_setup`` workflow (a deadline and a
compensation are involved); the login's second step, status, disabling and replacing the recovery
codes are direct, each being one service's own read/write in one transaction (nothing to wait
for, nothing to compensate)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response

from services.auth.dependencies import ClientDep, RuntimeDep
from services.auth.login import resolve_roles
from services.auth.mfa import changes, setup
from services.auth.mfa.factor import check_second_factor, read_mfa_token, spending
from services.auth.runtime import AuthRuntime
from services.auth.schemas import (
    ActivateRequest,
    ActivateResponse,
    MfaStatus,
    RecoveryCodes,
    RegenerateRequest,
    SecondFactor,
    SetupResponse,
    TokenPair,
    VerifyRequest,
)
from services.common.errors import ConflictError, UnauthorizedError
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.security_context import SecurityContext, acting_as
from storage.auth.audit import AuditRepository
from storage.auth.mfa import RecoveryCodeRepository
from storage.auth.models import Credential
from storage.auth.repository import CredentialRepository
from storage.db import transaction

router = APIRouter(tags=["mfa"])

_NO_STORE = {"cache-control": "no-store"}
_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: problem_response(401, "Not authenticated")}


async def _credential(runtime: AuthRuntime, user_id: uuid.UUID) -> Credential:
    async with transaction(runtime.resources.database) as db:
        credential = await CredentialRepository(db).get(user_id)
    if credential is None:
        raise UnauthorizedError("unknown user")
    return credential


@router.post(
    "/auth/mfa/setup",
    responses={
        **_UNAUTHORIZED,
        409: problem_response(409, "MFA is already enabled"),
        503: problem_response(503, "The setup workflow did not answer"),
    },
)
async def setup_route(
    principal: PrincipalDep, runtime: RuntimeDep, response: Response
) -> SetupResponse:
    user_id = uuid.UUID(principal.user_id)
    if (await _credential(runtime, user_id)).mfa_enabled:
        raise ConflictError("MFA is already enabled; disable it first to set it up again")
    # The setup's activities may act for this user only (SecurityContext checks).
    with acting_as(SecurityContext.for_principal(principal)):
        workflow_id, secret = await setup.start_setup(runtime, user_id)
    response.headers.update(_NO_STORE)
    return SetupResponse(
        workflow_id=workflow_id,
        secret=secret.secret,
        otpauth_uri=secret.otpauth_uri,
        expires_at=datetime.fromisoformat(secret.expires_at),
    )


@router.post(
    "/auth/mfa/activate",
    responses={
        **_UNAUTHORIZED,
        400: problem_response(400, "Wrong code (the setup keeps waiting until attempts run out)"),
        404: problem_response(404, "No setup in progress"),
        409: problem_response(409, "MFA is already enabled, or the setup has ended"),
        503: problem_response(503, "The setup workflow did not answer"),
    },
)
async def activate_route(
    body: ActivateRequest,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    client: ClientDep,
    response: Response,
) -> ActivateResponse:
    user_id = uuid.UUID(principal.user_id)
    try:
        codes = await setup.activate(runtime, user_id, body.code, uuid.UUID(principal.session_id))
    except setup.InvalidCodeError as error:
        # The workflow's check is read-only (retry-safe), so the failed attempt is recorded here.
        async with transaction(runtime.resources.database) as db:
            await AuditRepository(db).record(
                "mfa.activation_failed", user_id=user_id, ip=client.ip, **error.extra
            )
        raise
    response.headers.update(_NO_STORE)
    return ActivateResponse(recovery_codes=codes)


@router.post(
    "/auth/mfa/verify",
    responses={
        401: problem_response(401, "Invalid partial token, or wrong or already used code"),
        403: problem_response(403, "No longer a member of the tenant"),
        429: problem_response(429, "Too many wrong codes"),
    },
)
async def verify_route(
    body: VerifyRequest, runtime: RuntimeDep, client: ClientDep, response: Response
) -> TokenPair:
    """Complete a login that answered ``mfa_required`` and yield the session's tokens."""
    ticket = await read_mfa_token(runtime, body.mfa_token)
    async with spending(runtime, ticket):
        method = await check_second_factor(
            runtime,
            ticket.user_id,
            code=body.code,
            recovery_code=body.recovery_code,
            client=client,
            purpose="login",
        )
        if ticket.tenant_id is not None:
            await resolve_roles(runtime, ticket.user_id, ticket.tenant_id)
        async with transaction(runtime.resources.database) as db:
            tokens = await runtime.sessions.start(
                db,
                user_id=ticket.user_id,
                tenant_id=ticket.tenant_id,
                auth_methods=[*ticket.first_factor, method],
                client=client,
            )
    response.headers.update(_NO_STORE)
    return TokenPair.of(tokens)


@router.get("/auth/mfa", responses=_UNAUTHORIZED)
async def status_route(principal: PrincipalDep, runtime: RuntimeDep) -> MfaStatus:
    user_id = uuid.UUID(principal.user_id)
    async with transaction(runtime.resources.database) as db:
        credential = await CredentialRepository(db).get(user_id)
        left = await RecoveryCodeRepository(db).remaining(user_id)
    return MfaStatus(enabled=bool(credential and credential.mfa_enabled), recovery_codes_left=left)


@router.post(
    "/auth/mfa/disable",
    status_code=204,
    responses={
        **_UNAUTHORIZED,
        409: problem_response(409, "MFA is not enabled"),
        429: problem_response(429, "Too many wrong codes"),
    },
)
async def disable_route(
    body: SecondFactor, principal: PrincipalDep, runtime: RuntimeDep, client: ClientDep
) -> Response:
    """Turn MFA off; a current code (or a recovery code) proves the factor is still held.
    Every other session of the user ends."""
    user_id = uuid.UUID(principal.user_id)
    if not (await _credential(runtime, user_id)).mfa_enabled:
        raise ConflictError(changes.MFA_NOT_ENABLED)
    method = await check_second_factor(
        runtime,
        user_id,
        code=body.code,
        recovery_code=body.recovery_code,
        client=client,
        purpose="disable",
    )
    await changes.disable_mfa(
        runtime,
        user_id,
        session_id=uuid.UUID(principal.session_id),
        ip=client.ip,
        method=method,
    )
    return Response(status_code=204)


@router.post(
    "/auth/mfa/recovery-codes",
    responses={
        **_UNAUTHORIZED,
        409: problem_response(409, "MFA is not enabled"),
        429: problem_response(429, "Too many wrong codes"),
    },
)
async def regenerate_recovery_codes_route(
    body: RegenerateRequest,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    client: ClientDep,
    response: Response,
) -> RecoveryCodes:
    """Replace all recovery codes with a fresh set; a current TOTP code proves the factor is
    held. Every other session of the user ends."""
    user_id = uuid.UUID(principal.user_id)
    if not (await _credential(runtime, user_id)).mfa_enabled:
        raise ConflictError(changes.MFA_NOT_ENABLED)
    await check_second_factor(
        runtime,
        user_id,
        code=body.code,
        recovery_code=None,
        client=client,
        purpose="regenerate_recovery_codes",
    )
    codes = await changes.regenerate_recovery_codes(
        runtime, user_id, session_id=uuid.UUID(principal.session_id), ip=client.ip
    )
    response.headers.update(_NO_STORE)
    return RecoveryCodes(recovery_codes=codes)
