"""Signs access tokens (and the partial token that can only complete MFA) with the active key."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import Any

import jwt
from redis.asyncio import Redis

from services.auth.signing_keys import KeyRing
from services.common.settings import Settings
from services.common.tokens import ALGORITHM, JwksCache, TokenVerifier
from storage.redis import RedisKeys

MFA_TOKEN_TYPE = "mfa"  # noqa: S105 - a claim value, not a secret


class TokenIssuer:
    def __init__(self, ring: KeyRing, settings: Settings) -> None:
        self.ring = ring
        self.issuer = settings.auth_issuer
        self.audience = settings.auth_audience
        self.access_ttl = settings.auth_access_token_seconds
        self.mfa_ttl = settings.auth_mfa_token_seconds

    @property
    def mfa_audience(self) -> str:
        return f"{self.audience}:mfa"

    def _sign(self, claims: dict[str, Any]) -> str:
        key = self.ring.active
        return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})

    def _base(self, subject: str, audience: str, ttl: int) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.issuer,
            "aud": audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": secrets.token_urlsafe(12),
        }

    def access_token(
        self,
        *,
        user_id: str,
        session_id: str,
        tenant_id: str | None,
        roles: Sequence[str],
        auth_methods: Sequence[str],
        permissions: Sequence[str] = (),
        name: str | None = None,
    ) -> str:
        """``perms``: the effective permissions of ``roles`` in ``tid`` (as the tenant service
        synced them into the claims), so services check a permission without a lookup;
        ``name``: the profile's display name (``user_profile_sync`` keeps it current)."""
        claims = self._base(user_id, self.audience, self.access_ttl)
        claims.update(
            typ="access",
            sid=session_id,
            tid=tenant_id,
            roles=list(roles),
            perms=list(permissions),
            amr=list(auth_methods),
        )
        if name:
            claims["name"] = name
        return self._sign(claims)

    def mfa_token(
        self,
        *,
        user_id: str,
        tenant_id: str | None,
        attempt: str,
        first_factor: Sequence[str] = ("pwd",),
    ) -> str:
        """Proves the first factor only (``amr``); its audience differs, so no API accepts it."""
        claims = self._base(user_id, self.mfa_audience, self.mfa_ttl)
        claims.update(typ=MFA_TOKEN_TYPE, sid=attempt, tid=tenant_id, amr=list(first_factor))
        return self._sign(claims)

    def verifier(self, redis: Redis | None = None, keys: RedisKeys | None = None) -> TokenVerifier:
        async def local_jwks() -> dict[str, Any]:
            return self.ring.jwks()

        return TokenVerifier(
            JwksCache(local_jwks),
            issuer=self.issuer,
            audience=self.audience,
            redis=redis,
            keys=keys,
        )
