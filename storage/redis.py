"""Redis client factory and key naming (every key and channel carries the configured prefix)."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

#: Redis answers in well under a millisecond; a command that has not in this long will not, and
#: the request waiting for it should say so (SERVICE_UNAVAILABLE, a 503) instead of hanging.
SOCKET_TIMEOUT_SECONDS = 1.0
CONNECT_TIMEOUT_SECONDS = 1.0
#: An idle pooled connection is pinged before reuse after this long, so one broken while Redis
#: was away (restart, failover) is replaced instead of failing the request that picks it.
HEALTH_CHECK_INTERVAL_SECONDS = 5


def create_redis(url: str) -> Redis:
    """A client that fails fast and recovers at once: one quick retry on a broken connection
    (a stale pooled socket after Redis came back), none on a timeout (redis-py's default of
    ten retries with back-off turned one stalled Redis into a minute-long request)."""
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        health_check_interval=HEALTH_CHECK_INTERVAL_SECONDS,
        retry=Retry(
            ExponentialBackoff(cap=0.1, base=0.02),
            retries=1,
            supported_errors=(RedisConnectionError,),
        ),
    )


class RedisKeys:
    """Builds Redis key and channel names under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))
