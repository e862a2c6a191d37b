"""Access-token verification shared by the gateway and the services: EdDSA pinned, key by
``kid`` from the auth service's JWKS, issuer/audience/expiry enforced, revoked sessions denied."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt
from redis.asyncio import Redis

from storage.redis import Keys

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["sub", "sid", "iat", "nbf", "exp", "iss", "aud"]
#: Minimum time between two JWKS refreshes triggered by unknown key ids (stops kid flooding).
JWKS_REFRESH_INTERVAL_SECONDS = 30.0
JWKS_MAX_AGE_SECONDS = 300.0


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

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        return cls(
            user_id=str(claims["sub"]),
            session_id=str(claims["sid"]),
            tenant_id=claims.get("tid"),
            roles=tuple(claims.get("roles") or ()),
            auth_methods=tuple(claims.get("amr") or ()),
        )


def revoked_session_key(keys: Keys, session_id: str) -> str:
    return keys("auth", "revoked-session", session_id)


class JwksCache:
    """JWKS fetched through ``fetch``, kept ``JWKS_MAX_AGE_SECONDS``, refreshed early (at most
    every ``JWKS_REFRESH_INTERVAL_SECONDS``) when a token names a key id it does not know."""

    def __init__(self, fetch: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        self._fetch = fetch
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0

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
        if age > JWKS_MAX_AGE_SECONDS or (
            kid not in self._keys and age > JWKS_REFRESH_INTERVAL_SECONDS
        ):
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
        keys: Keys | None = None,
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


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise InvalidTokenError("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidTokenError("missing bearer token")
    return token.strip()
