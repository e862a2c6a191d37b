"""Moving-window rate counters in Redis (the ``limits`` library: atomic Lua, shared by replicas)."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis


def moving_windows(redis: Redis, key_prefix: str) -> MovingWindowRateLimiter:
    """Counters on ``redis``'s own connection pool with every key under ``key_prefix``.

    Redis failures surface as ``limits.errors.StorageError`` so callers choose fail-open or
    fail-closed in one place.
    """
    storage = RedisStorage(
        # The scheme only picks the redis-py bridge; connections come from ``redis``'s pool.
        "async+redis://",
        implementation="redispy",
        wrap_exceptions=True,
        key_prefix=key_prefix,
        # Documented by limits, though its options are typed as scalars only.
        connection_pool=redis.connection_pool,  # type: ignore[arg-type]
    )
    return MovingWindowRateLimiter(storage)


async def seconds_until_room(
    limiter: MovingWindowRateLimiter, item: RateLimitItem, *identifiers: str
) -> int:
    """Whole seconds (at least 1) until ``item``'s full window for ``identifiers`` has room
    again: the ``Retry-After`` of the refusal."""
    stats = await limiter.get_window_stats(item, *identifiers)
    return max(1, math.ceil(stats.reset_time - time.time()))
