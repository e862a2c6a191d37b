"""Auth HTTP API: login, refresh, logout, own sessions, JWKS. Direct (no workflow): each is one
service's own read/write, and login latency matters; multi-step flows start workflows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, StrictBool

from services.auth.dependencies import ClientDep, PrincipalDep, RuntimeDep
from services.auth.fields import Email, OpaqueToken, Password
from services.auth.login import login
from services.auth.sessions import IssuedTokens
from services.common.errors import NotFoundError
from services.common.openapi import problems

router = APIRouter(tags=["auth"])


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
    def of(cls, tokens: IssuedTokens) -> TokenPair:
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
