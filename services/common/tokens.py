"""Access-token verification shared by the gateway and the services: EdDSA pinned, key by
``kid`` from the auth service's JWKS, issuer/audience/expiry enforced, revoked sessions denied.

The gateway fetches the JWKS from the auth service over HTTP. The other services never call
another service (DESIGN.md section 2): the auth service publishes its JWKS into Redis
(``publish_jwks``) and they read it from there (``redis_jwks``)."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt
from redis.asyncio import Redis

from services.common.settings import Settings
from storage.redis import RedisKeys

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["sub", "sid", "iat", "nbf", "exp", "iss", "aud"]
#: Minimum time between two JWKS refreshes triggered by unknown key ids (stops kid flooding).
JWKS_REFRESH_INTERVAL_SECONDS = 30.0
JWKS_MAX_AGE_SECONDS = 300.0
#: A Redis read is cheap: services re-read the published JWKS more often than the gateway.
REDIS_JWKS_MAX_AGE_SECONDS = 60.0
REDIS_JWKS_REFRESH_INTERVAL_SECONDS = 1.0
#: A publisher's JWKS counts until this long after its last publication (auth republishes
#: every ``JWKS_PUBLISH_INTERVAL_SECONDS``), so a stopped replica's keys age out on their own.
JWKS_PUBLICATION_STALE_SECONDS = 300.0
JWKS_PUBLISH_INTERVAL_SECONDS = 60.0


class InvalidTokenError(Exception):
    """The token is not acceptable; the message is safe to show (it names no key material)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling, as stated by a verified access token."""

    user_id: str
    session_id: str
    tenant_id: str | None
    roles: tuple[str, ...]
    auth_methods: tuple[str, ...]
    #: The effective permissions in ``tenant_id`` (the ``perms`` claim; empty in older tokens).
    permissions: tuple[str, ...] = ()

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        return cls(
            user_id=str(claims["sub"]),
            session_id=str(claims["sid"]),
            tenant_id=claims.get("tid"),
            roles=tuple(claims.get("roles") or ()),
            auth_methods=tuple(claims.get("amr") or ()),
            permissions=tuple(claims.get("perms") or ()),
        )


def revoked_session_key(keys: RedisKeys, session_id: str) -> str:
    return keys("auth", "revoked-session", session_id)


def jwks_key(keys: RedisKeys) -> str:
    """Redis hash of published JWKS documents: one field per auth process (see publish_jwks)."""
    return keys("auth", "jwks")


async def publish_jwks(
    redis: Redis,
    keys: RedisKeys,
    publisher: str,
    document: dict[str, Any],
    now: float | None = None,
) -> None:
    """Publish ``document`` (a JWKS) as ``publisher``'s (one auth process) and drop stale ones.

    Each auth replica keeps its own field, and readers take the union of the fresh ones: during
    a rolling key rotation old and new replicas both sign, and neither hides the other's keys.
    """
    now = time.time() if now is None else now
    name = jwks_key(keys)
    entries = await redis.hgetall(name)
    stale = [
        field
        for field, raw in entries.items()
        if field != publisher and _published_at(raw) < now - JWKS_PUBLICATION_STALE_SECONDS
    ]
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(name, publisher, json.dumps({"published_at": now, "keys": document["keys"]}))
        if stale:
            pipe.hdel(name, *stale)
        pipe.expire(name, 86400)
        await pipe.execute()


def _published_at(raw: bytes | str) -> float:
    try:
        return float(json.loads(raw).get("published_at", 0.0))
    except (ValueError, AttributeError, TypeError):
        return 0.0


def redis_jwks(redis: Redis, keys: RedisKeys) -> Callable[[], Awaitable[dict[str, Any]]]:
    """A JWKS fetch for ``JwksCache``: the union of the fresh documents auth published."""

    async def fetch() -> dict[str, Any]:
        now = time.time()
        merged: dict[str, dict[str, Any]] = {}
        for raw in (await redis.hgetall(jwks_key(keys))).values():
            if _published_at(raw) < now - JWKS_PUBLICATION_STALE_SECONDS:
                continue
            for entry in json.loads(raw).get("keys", []):
                if isinstance(entry, dict) and isinstance(entry.get("kid"), str):
                    merged.setdefault(entry["kid"], entry)
        return {"keys": list(merged.values())}

    return fetch


class JwksCache:
    """JWKS fetched through ``fetch``, kept ``max_age`` seconds, refreshed early (at most every
    ``refresh_interval`` seconds) when a token names a key id it does not know."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[dict[str, Any]]],
        *,
        max_age: float = JWKS_MAX_AGE_SECONDS,
        refresh_interval: float = JWKS_REFRESH_INTERVAL_SECONDS,
    ) -> None:
        self._fetch = fetch
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self.max_age = max_age
        self.refresh_interval = refresh_interval

    async def _refresh(self) -> None:
        document = await self._fetch()
        keys = {}
        for entry in document.get("keys", []):
            if entry.get("kid") and entry.get("kty") == "OKP" and entry.get("crv") == "Ed25519":
                keys[entry["kid"]] = jwt.PyJWK(entry, algorithm=ALGORITHM)
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def key(self, kid: str) -> jwt.PyJWK:
        age = time.monotonic() - self._fetched_at
        if age > self.max_age or (kid not in self._keys and age > self.refresh_interval):
            await self._refresh()
        try:
            return self._keys[kid]
        except KeyError:
            raise InvalidTokenError("unknown signing key") from None


class TokenVerifier:
    def __init__(
        self,
        jwks: JwksCache,
        *,
        issuer: str,
        audience: str,
        redis: Redis | None = None,
        keys: RedisKeys | None = None,
    ) -> None:
        self.jwks = jwks
        self.issuer = issuer
        self.audience = audience
        self.redis = redis
        self.keys = keys

    async def decode(self, token: str, *, audience: str | None = None) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise InvalidTokenError("malformed token") from error
        # The algorithm is pinned: 'none', HS256 (key confusion) or RS256 are refused up front.
        if header.get("alg") != ALGORITHM or not isinstance(header.get("kid"), str):
            raise InvalidTokenError("unsupported token algorithm or key id")
        key = await self.jwks.key(header["kid"])
        try:
            return jwt.decode(  # type: ignore[no-any-return]
                token,
                key=key,
                algorithms=[ALGORITHM],
                audience=audience or self.audience,
                issuer=self.issuer,
                options={"require": REQUIRED_CLAIMS, "verify_iat": True},
            )
        except jwt.ExpiredSignatureError as error:
            raise InvalidTokenError("token expired") from error
        except jwt.ImmatureSignatureError as error:
            raise InvalidTokenError("token not yet valid") from error
        except jwt.PyJWTError as error:
            raise InvalidTokenError("invalid token") from error

    async def verify(self, token: str) -> Principal:
        """A valid access token of a session that has not been revoked."""
        claims = await self.decode(token)
        if claims.get("typ") != "access":
            raise InvalidTokenError("not an access token")
        if self.redis is not None and self.keys is not None:
            if await self.redis.exists(revoked_session_key(self.keys, str(claims["sid"]))):
                raise InvalidTokenError("session revoked")
        return Principal.from_claims(claims)


def redis_verifier(settings: Settings, redis: Redis, keys: RedisKeys) -> TokenVerifier:
    """The verifier of a service other than auth: JWKS and deny-list both from Redis."""
    return TokenVerifier(
        JwksCache(
            redis_jwks(redis, keys),
            max_age=REDIS_JWKS_MAX_AGE_SECONDS,
            refresh_interval=REDIS_JWKS_REFRESH_INTERVAL_SECONDS,
        ),
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        redis=redis,
        keys=keys,
    )


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise InvalidTokenError("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidTokenError("missing bearer token")
    return token.strip()
