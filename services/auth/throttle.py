"""Brute-force throttling per account and per client, with growing delays (Redis counters).

Counters are keyed on what the caller typed (a hash of the e-mail), never on whether the
account exists, so throttling reveals nothing. Password reset has no counter here: being
throttled on login never blocks resetting the password.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from services.common.errors import RateLimitedError
from storage.redis import RedisKeys

#: A client (IP) gets more free attempts than an account: many users may share one address.
CLIENT_FACTOR = 4
WINDOW_SECONDS = 24 * 3600


class TooManyAttemptsError(RateLimitedError):
    type = "https://adx.dev/problems/too-many-attempts"
    title = "Too many attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many failed attempts; try again in {retry_after} seconds.", retry_after
        )


@dataclass(frozen=True)
class Throttle:
    redis: Redis
    keys: RedisKeys
    free_attempts: int
    max_delay: int

    def _keys(self, email: str, client: str | None) -> list[tuple[str, int]]:
        account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        pairs = [(self.keys("auth", "fail", "account", account), self.free_attempts)]
        if client:
            pairs.append(
                (self.keys("auth", "fail", "client", client), self.free_attempts * CLIENT_FACTOR)
            )
        return pairs

    def _delay(self, failures: int, free: int) -> int:
        if failures < free:
            return 0
        return int(min(2 ** (failures - free + 1), self.max_delay))

    async def check(self, email: str, client: str | None) -> bool:
        """Refuse (429) while a delay earned by earlier failures is running. Returns whether
        the account has failures on record (only then does a success need to clear them)."""
        now = time.time()
        pairs = self._keys(email, client)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, _ in pairs:
                pipe.hgetall(key)
            states = await pipe.execute()
        worst = 0
        for (_, free), state in zip(pairs, states, strict=True):
            if not state:
                continue
            wait = float(state["last"]) + self._delay(int(state["count"]), free) - now
            worst = max(worst, int(wait + 0.999))
        if worst > 0:
            raise TooManyAttemptsError(worst)
        return bool(states[0])

    async def failed(self, email: str, client: str | None) -> None:
        """Count a failure for the account and the client: one MULTI/EXEC round trip."""
        now = str(time.time())
        async with self.redis.pipeline(transaction=True) as pipe:
            for key, _ in self._keys(email, client):
                pipe.hincrby(key, "count", 1)
                pipe.hset(key, "last", now)
                pipe.expire(key, WINDOW_SECONDS)
            await pipe.execute()

    async def succeeded(self, email: str) -> None:
        """A correct password clears the account's counter (not the client's)."""
        await self.redis.delete(self._keys(email, None)[0][0])
