"""Authentication operations. Login, refresh, logout and session management are one service's
own writes with nothing to orchestrate, so they go straight to the auth service's HTTP API
(rule: a mutation starts a workflow only when it spans services or steps)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from resolvers.auth_calls import call_auth
from schema.auth import AuthSession, AuthTokens, LoginInput, LoginResult, Me, SsoProvider
from schema.errors import UNAUTHENTICATED, UserFacingError
from services.common.tokens import InvalidTokenError

if TYPE_CHECKING:
    from gateway.context import GatewayContext


async def resolve_login(info: strawberry.Info[GatewayContext], input: LoginInput) -> LoginResult:
    body = await call_auth(
        info,
        "POST",
        "/auth/login",
        json={"email": input.email, "password": input.password, "tenant_id": input.tenant_id},
    )
    tokens = body.get("tokens")
    return LoginResult(
        mfa_required=bool(body.get("mfa_required")),
        mfa_token=body.get("mfa_token"),
        tokens=AuthTokens.from_json(tokens) if tokens else None,
    )


async def resolve_refresh(info: strawberry.Info[GatewayContext], refresh_token: str) -> AuthTokens:
    """Rotates the token. Two tabs presenting one token at once both get the same successor
    (the auth service's reuse interval, ``ADX_AUTH_REFRESH_REUSE_SECONDS``); a later reuse
    revokes the whole session."""
    body = await call_auth(info, "POST", "/auth/refresh", json={"refresh_token": refresh_token})
    return AuthTokens.from_json(body)


async def resolve_logout(info: strawberry.Info[GatewayContext], all_sessions: bool = False) -> bool:
    await call_auth(
        info, "POST", "/auth/logout", json={"all_sessions": all_sessions}, authenticated=True
    )
    return True


async def resolve_revoke_session(info: strawberry.Info[GatewayContext], id: strawberry.ID) -> bool:
    await call_auth(info, "DELETE", f"/auth/sessions/{_uuid(id)}", authenticated=True)
    return True


async def resolve_my_sessions(info: strawberry.Info[GatewayContext]) -> list[AuthSession]:
    rows = await call_auth(info, "GET", "/auth/sessions", authenticated=True)
    return [
        AuthSession(
            id=strawberry.ID(r["id"]),
            tenant_id=r["tenant_id"],
            created_at=datetime.fromisoformat(r["created_at"]),
            last_seen_at=datetime.fromisoformat(r["last_seen_at"]),
            expires_at=datetime.fromisoformat(r["expires_at"]),
            auth_methods=r["auth_methods"],
            user_agent=r["user_agent"],
            ip=r["ip"],
            current=r["current"],
        )
        for r in rows
    ]


async def resolve_me(info: strawberry.Info[GatewayContext]) -> Me:
    """Answered from the verified token itself: no service call needed."""
    try:
        principal = await info.context.principal()
    except InvalidTokenError as error:
        raise UserFacingError(f"not authenticated: {error}", UNAUTHENTICATED) from error
    return Me(
        user_id=strawberry.ID(principal.user_id),
        session_id=strawberry.ID(principal.session_id),
        tenant_id=strawberry.ID(principal.tenant_id) if principal.tenant_id else None,
        roles=list(principal.roles),
        auth_methods=list(principal.auth_methods),
    )


def _uuid(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError as error:
        raise UserFacingError(f"not a valid session id: {raw!r}") from error


async def resolve_sso_providers(info: strawberry.Info[GatewayContext]) -> list[SsoProvider]:
    """Names of the configured OpenID providers. The sign-in itself is a browser redirect:
    send the browser to ``/auth/sso/<name>/start`` on the auth service."""
    rows = await call_auth(info, "GET", "/auth/sso/providers")
    return [SsoProvider(name=r["name"], start_path=f"/auth/sso/{r['name']}/start") for r in rows]
