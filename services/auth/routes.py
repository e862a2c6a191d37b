"""Auth HTTP API: login, refresh, logout, own sessions, JWKS. Direct (no workflow): each is one
service's own read/write, and login latency matters; multi-step flows start workflows."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from services.auth.dependencies import ClientDep, RuntimeDep
from services.auth.login import login
from services.auth.schemas import (
    LoginRequest,
    LoginResponse,
    LogoutRequest,
    Me,
    RefreshRequest,
    SessionOut,
    TokenPair,
)
from services.common.errors import NotFoundError
from services.common.openapi import problems
from services.common.principal import PrincipalDep

router = APIRouter(tags=["auth"])


_UNAUTHORIZED = problems({401: "Not authenticated"})


@router.post(
    "/auth/login",
    responses=problems(
        {
            401: "Wrong e-mail or password, or e-mail not verified yet",
            403: "Not a member of the tenant",
            429: "Too many failed attempts",
        }
    ),
)
async def login_route(body: LoginRequest, runtime: RuntimeDep, client: ClientDep) -> LoginResponse:
    outcome = await login(
        runtime, email=body.email, password=body.password, tenant_id=body.tenant_id, client=client
    )
    if outcome.mfa_token:
        return LoginResponse(mfa_required=True, mfa_token=outcome.mfa_token)
    assert outcome.tokens is not None
    return LoginResponse(tokens=TokenPair.of(outcome.tokens))


@router.post(
    "/auth/refresh",
    responses=problems({401: "Unknown, spent or expired refresh token, or the session ended"}),
)
async def refresh_route(body: RefreshRequest, runtime: RuntimeDep, client: ClientDep) -> TokenPair:
    return TokenPair.of(await runtime.sessions.refresh(body.refresh_token, client))


@router.post("/auth/logout", status_code=204, responses=_UNAUTHORIZED)
async def logout_route(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    client: ClientDep,
    body: LogoutRequest | None = None,
) -> Response:
    user_id = uuid.UUID(principal.user_id)
    if body is not None and body.all_sessions:
        await runtime.sessions.revoke_all(user_id, "logout_all", ip=client.ip)
    else:
        await runtime.sessions.revoke(
            user_id, uuid.UUID(principal.session_id), "logout", ip=client.ip
        )
    return Response(status_code=204)


@router.get("/auth/sessions", responses=_UNAUTHORIZED)
async def list_sessions(principal: PrincipalDep, runtime: RuntimeDep) -> list[SessionOut]:
    rows = await runtime.sessions.list(uuid.UUID(principal.user_id))
    return [
        SessionOut(
            id=row.id,
            tenant_id=row.tenant_id,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            auth_methods=row.auth_methods,
            user_agent=row.user_agent,
            ip=row.ip,
            current=str(row.id) == principal.session_id,
        )
        for row in rows
    ]


@router.delete(
    "/auth/sessions/{session_id}",
    status_code=204,
    responses=problems({401: "Not authenticated", 404: "No such session of yours"}),
)
async def revoke_session(
    session_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, client: ClientDep
) -> Response:
    if not await runtime.sessions.revoke(
        uuid.UUID(principal.user_id), session_id, "revoked_by_user", ip=client.ip
    ):
        raise NotFoundError("no such active session")
    return Response(status_code=204)


@router.get("/auth/me", responses=_UNAUTHORIZED)
async def me(principal: PrincipalDep) -> Me:
    return Me(
        user_id=principal.user_id,
        session_id=principal.session_id,
        tenant_id=principal.tenant_id,
        roles=list(principal.roles),
        auth_methods=list(principal.auth_methods),
    )


@router.get("/.well-known/jwks.json")
async def jwks(runtime: RuntimeDep, response: Response) -> dict[str, Any]:
    response.headers["cache-control"] = "public, max-age=300"
    return runtime.keys.jwks()
