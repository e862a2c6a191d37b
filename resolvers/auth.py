"""Authentication operations. Login, refresh, logout and session management are one service's
own writes with nothing to orchestrate, so they go straight to the auth service's HTTP API
(rule: a mutation starts a workflow only when it spans services or steps)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import strawberry

from schema.auth import AuthSession, AuthTokens, LoginInput, LoginResult, Me, SsoProvider
from schema.errors import UNAUTHENTICATED, UserFacingError
from services.auth.schemas import LoginResponse, SessionOut, SsoProviderOut, TokenPair
from services.common.settings import ServiceName
from services.common.tokens import InvalidTokenError

if TYPE_CHECKING:
    from gateway.context import GatewayContext


async def resolve_login(info: strawberry.Info[GatewayContext], input: LoginInput) -> LoginResult:
    body = await info.context.service(ServiceName.auth).call(
        "POST",
        "/auth/login",
        json={"email": input.email, "password": input.password, "tenant_id": input.tenant_id},
        response=LoginResponse,
    )
    return LoginResult(
        mfa_required=body.mfa_required,
        mfa_token=body.mfa_token,
        tokens=AuthTokens.of(body.tokens) if body.tokens else None,
    )


async def resolve_refresh(info: strawberry.Info[GatewayContext], refresh_token: str) -> AuthTokens:
    """Rotates the token. Two tabs presenting one token at once both get the same successor
    (the auth service's reuse interval, ``ADX_AUTH_REFRESH_REUSE_SECONDS``); a later reuse
    revokes the whole session."""
    pair = await info.context.service(ServiceName.auth).call(
        "POST", "/auth/refresh", json={"refresh_token": refresh_token}, response=TokenPair
    )
    return AuthTokens.of(pair)


async def resolve_logout(info: strawberry.Info[GatewayContext], all_sessions: bool = False) -> bool:
    await info.context.service(ServiceName.auth, signed_in=True).send(
        "POST", "/auth/logout", json={"all_sessions": all_sessions}
    )
    return True


async def resolve_revoke_session(info: strawberry.Info[GatewayContext], id: strawberry.ID) -> bool:
    path = f"/auth/sessions/{_uuid(id)}"  # a malformed id is refused before "sign in first"
    await info.context.service(ServiceName.auth, signed_in=True).send("DELETE", path)
    return True


async def resolve_my_sessions(info: strawberry.Info[GatewayContext]) -> list[AuthSession]:
    rows = await info.context.service(ServiceName.auth, signed_in=True).call(
        "GET", "/auth/sessions", response=list[SessionOut]
    )
    # AuthSession is the service's SessionOut (schema/auth.py); only the ids are GraphQL ids.
    return [AuthSession(**{**r.model_dump(), **_ids(r)}) for r in rows]


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


def _ids(row: SessionOut) -> dict[str, strawberry.ID | None]:
    tenant_id = strawberry.ID(str(row.tenant_id)) if row.tenant_id else None
    return {"id": strawberry.ID(str(row.id)), "tenant_id": tenant_id}


def _uuid(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError as error:
        raise UserFacingError(f"not a valid session id: {raw!r}") from error


async def resolve_sso_providers(info: strawberry.Info[GatewayContext]) -> list[SsoProvider]:
    """Names of the configured OpenID providers. The sign-in itself is a browser redirect:
    send the browser to ``/auth/sso/<name>/start`` on the auth service."""
    rows = await info.context.service(ServiceName.auth).call(
        "GET", "/auth/sso/providers", response=list[SsoProviderOut]
    )
    return [SsoProvider(name=r.name, start_path=f"/auth/sso/{r.name}/start") for r in rows]
