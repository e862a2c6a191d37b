"""Per-user subscription leases shared by every gateway replica: one Redis sorted set per user
(``subs/<user id>``), a member per open subscription scored with the time its lease lapses.
The connection holding a subscription renews its lease with every heartbeat ping and removes
it when the subscription ends; a replica that crashes leaves leases that lapse on their own
(``lease_seconds``) and stop counting, so the cap never stays used up."""

from __future__ import annotations

import time
from typing import Any

import jwt
from redis.asyncio import Redis

from storage.redis import RedisKeys

# Drop lapsed leases, then take one if fewer than the cap are held: atomically, so two replicas
# racing for a user's last slot cannot both get it.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class SubscriptionLeases:
    def __init__(self, redis: Redis, keys: RedisKeys, cap: int, lease_seconds: float) -> None:
        self.redis = redis
        self.keys = keys
        self.cap = cap
        self.lease_seconds = lease_seconds
        self._acquire = redis.register_script(_ACQUIRE)

    def _key(self, user_id: str) -> str:
        return self.keys("subs", user_id)

    async def acquire(self, user_id: str, lease_id: str) -> bool:
        """Take a lease for ``lease_id`` unless ``user_id`` already holds ``cap`` live ones."""
        now = time.time()
        taken = await self._acquire(
            keys=[self._key(user_id)],
            args=[now, now + self.lease_seconds, self.cap, lease_id, int(self.lease_seconds) + 1],
        )
        return bool(taken)

    async def renew(self, user_id: str, lease_ids: list[str]) -> None:
        if not lease_ids:
            return
        until = time.time() + self.lease_seconds
        key = self._key(user_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key, dict.fromkeys(lease_ids, until), xx=True)
            pipe.expire(key, int(self.lease_seconds) + 1)
            await pipe.execute()

    async def release(self, user_id: str, lease_id: str) -> None:
        await self.redis.zrem(self._key(user_id), lease_id)

    async def held(self, user_id: str) -> int:
        """Live leases of ``user_id`` (lapsed ones do not count)."""
        return int(await self.redis.zcount(self._key(user_id), time.time(), "+inf"))


def token_expiry(authorization: str | None) -> float | None:
    """The ``exp`` of a bearer token the verifier has already accepted (so its claims are
    trusted; nothing is verified here)."""
    if not authorization:
        return None
    _, _, token = authorization.partition(" ")
    try:
        claims: dict[str, Any] = jwt.decode(token.strip(), options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, int | float) else None
