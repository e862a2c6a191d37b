"""Idempotent mutations: an ``Idempotency-Key`` header names the run a mutation started, so a
request retried over a flaky network returns that same run instead of starting a second one.

A record ``idem/<scope>/<key>/<field>`` in Redis (``ADX_IDEMPOTENCY_TTL_SECONDS``) holds the
request's fingerprint (a keyed digest of the field and its arguments) and, once started, the
workflow id. The first request takes the record with ``SET NX`` before it starts anything, so
two concurrent retries start one workflow: the second waits for the first's workflow id. A key
reused with another operation or other arguments is refused (``IDEMPOTENCY_KEY_REUSED``);
a start that fails releases the record, so the retry starts afresh.

The scope is the signed-in user (a key of yours never meets anyone else's); without a token it
is the shared anonymous scope: the fingerprint must still match, and it covers every argument
(a sign-up's password too), so a stranger guessing a key learns nothing."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from schema.errors import BAD_USER_INPUT, UserFacingError
from storage.redis import RedisKeys

HEADER = "idempotency-key"
#: 8-128 characters of letters, digits and ``-_.:`` (a UUID fits; no spaces, no control chars).
KEY_SYNTAX = re.compile(r"[A-Za-z0-9_.:-]{8,128}")
IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
IDEMPOTENCY_KEY_IN_PROGRESS = "IDEMPOTENCY_KEY_IN_PROGRESS"
#: How long a retry waits for a concurrent first request to name its workflow.
WAIT_SECONDS = 5.0
_POLL = 0.05


def checked_key(raw: str | None) -> str | None:
    """The header's key, or ``None`` without one; a malformed key is ``BAD_USER_INPUT``."""
    if raw is None:
        return None
    if not KEY_SYNTAX.fullmatch(raw):
        raise UserFacingError(
            "Idempotency-Key must be 8-128 characters: letters, digits, '-', '_', '.', ':'",
            BAD_USER_INPUT,
        )
    return raw


class Idempotency:
    def __init__(
        self, redis: Redis, keys: RedisKeys, ttl_seconds: int, digest: Callable[[bytes], str]
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl = ttl_seconds
        self.digest = digest

    def fingerprint(self, field: str, arguments: Any) -> str:
        canonical = json.dumps([field, arguments], sort_keys=True, default=str)
        return self.digest(canonical.encode())

    async def workflow_id(
        self,
        *,
        scope: str,
        key: str,
        field: str,
        arguments: Any,
        start: Callable[[], Awaitable[str]],
    ) -> str:
        """The workflow this key started for ``field``: started now by ``start`` (which answers
        its id) when the key is new, else the one a previous request with it started."""
        record = self.keys("idem", scope, key, field)
        fingerprint = self.fingerprint(field, arguments)
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            pending = json.dumps({"fp": fingerprint, "wf": None})
            if await self.redis.set(record, pending, nx=True, ex=self.ttl):
                try:
                    workflow_id = await start()
                except BaseException:
                    await self.redis.delete(record)
                    raise
                done = json.dumps({"fp": fingerprint, "wf": workflow_id})
                await self.redis.set(record, done, ex=self.ttl)
                return workflow_id
            raw = await self.redis.get(record)
            if raw is not None:
                stored = json.loads(raw)
                if stored["fp"] != fingerprint:
                    raise UserFacingError(
                        "this Idempotency-Key was used for another operation or other arguments; "
                        "use a new key for a new request",
                        IDEMPOTENCY_KEY_REUSED,
                    )
                if stored["wf"]:
                    return str(stored["wf"])
            if time.monotonic() >= deadline:
                raise UserFacingError(
                    "a request with this Idempotency-Key is still being started; retry shortly",
                    IDEMPOTENCY_KEY_IN_PROGRESS,
                    retryAfter=1,
                )
            await asyncio.sleep(_POLL)
