"""Who is calling the gateway: access tokens verified against the auth service's JWKS (cached,
refreshed on a new key id), revoked sessions refused via the Redis deny-list."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from gateway.service_clients import ServiceClient
from services.common.settings import Settings
from services.common.tokens import JwksCache, TokenVerifier
from storage.redis import RedisKeys


def gateway_verifier(
    settings: Settings, auth: ServiceClient, redis: Redis, keys: RedisKeys
) -> TokenVerifier:
    async def fetch_jwks() -> dict[str, Any]:
        response = await auth.get("/.well-known/jwks.json")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    return TokenVerifier(
        JwksCache(fetch_jwks),
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        redis=redis,
        keys=keys,
    )


def authorization_from(connection_params: Any, headers: Any) -> str | None:
    """HTTP: the Authorization header. WebSocket: ``connection_init`` payload's Authorization
    (browsers cannot set headers on a WebSocket), else the upgrade request's header."""
    if isinstance(connection_params, dict):
        for key in ("Authorization", "authorization"):
            value = connection_params.get(key)
            if isinstance(value, str):
                return value
    value = headers.get("authorization") if headers is not None else None
    return value if isinstance(value, str) else None
