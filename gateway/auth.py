"""Who is calling the gateway: access tokens verified against the auth service's JWKS (cached,
refreshed on a new key id), revoked sessions refused via the Redis deny-list."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

import jwt
from redis.asyncio import Redis

from gateway.service_clients import ServiceClient
from services.common.settings import Settings
from services.common.tokens import JwksCache, TokenVerifier
from storage.redis import RedisKeys

#: Tokens whose signature and claims the gateway keeps as checked (least recently used out).
CHECKED_TOKENS = 10_000


class GatewayTokenVerifier(TokenVerifier):
    """The gateway's verifier: a token's signature and claims are checked once (PyJWT's
    Ed25519 decode costs 0.3-0.5 ms, as much as the rest of a small query:
    bench/gateway_bench.py), then the checked claims are reused while the token has not
    expired and the key that signed it is still the JWKS cache's key of that id (a withdrawn or
    replaced key fails every token it signed at the cache's next refresh, as before). The
    deny-list is still asked on every request: a revoked session is refused at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._checked: OrderedDict[str, tuple[dict[str, Any], str, jwt.PyJWK]] = OrderedDict()

    async def decode(self, token: str, *, audience: str | None = None) -> dict[str, Any]:
        if audience is not None:  # another audience: not what the cache holds
            return await super().decode(token, audience=audience)
        checked = self._checked.get(token)
        if checked is not None:
            claims, kid, key = checked
            if time.time() < claims["exp"] and await self.jwks.key(kid) is key:
                self._checked.move_to_end(token)
                return dict(claims)
            del self._checked[token]
        claims = await super().decode(token)  # raises InvalidTokenError: nothing is kept
        kid = jwt.get_unverified_header(token)["kid"]
        self._checked[token] = (dict(claims), kid, await self.jwks.key(kid))
        if len(self._checked) > CHECKED_TOKENS:
            self._checked.popitem(last=False)
        return claims


def gateway_verifier(
    settings: Settings, auth: ServiceClient, redis: Redis, keys: RedisKeys
) -> TokenVerifier:
    async def fetch_jwks() -> dict[str, Any]:
        response = await auth.get("/.well-known/jwks.json")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    return GatewayTokenVerifier(
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
