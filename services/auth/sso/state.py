"""Pending SSO sign-ins in Redis: what ``start`` must hand to ``callback``, single use, short-lived."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass

from redis.asyncio import Redis

from storage.redis import RedisKeys

#: How long a user may spend at the provider between ``start`` and ``callback``.
STATE_TTL_SECONDS = 600


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class PendingSignIn:
    """Secrets of one authorization request; never sent to the browser except ``state``."""

    provider: str
    nonce: str
    code_verifier: str
    #: sha256 of the browser-binding cookie, so a callback from another browser is refused.
    binding_hash: str
    redirect_after: str | None = None

    @classmethod
    def new(cls, provider: str, binding: str, redirect_after: str | None) -> PendingSignIn:
        return cls(
            provider=provider,
            nonce=secrets.token_urlsafe(32),
            # RFC 7636: 43-128 characters of [A-Za-z0-9-._~]; 64 bytes give 86.
            code_verifier=secrets.token_urlsafe(64),
            binding_hash=digest(binding),
            redirect_after=redirect_after,
        )


class SsoStateStore:
    """``state`` -> PendingSignIn. Keys hold a hash of the state, so a Redis dump reveals none."""

    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self.redis = redis
        self.keys = keys

    def _key(self, state: str) -> str:
        return self.keys("sso", "state", digest(state))

    async def put(self, state: str, pending: PendingSignIn, ttl: int = STATE_TTL_SECONDS) -> None:
        await self.redis.set(self._key(state), json.dumps(asdict(pending)), ex=ttl)

    async def take(self, state: str) -> PendingSignIn | None:
        """The pending sign-in, removed atomically (GETDEL): a state works exactly once."""
        raw = await self.redis.getdel(self._key(state))
        if raw is None:
            return None
        return PendingSignIn(**json.loads(raw))
