"""One Redis pub/sub connection per gateway replica, fanned out to its local subscribers: a
subscription joins a channel (an ``asyncio.Queue`` of its own) instead of holding a Redis
connection. One connection per subscriber exhausted the client's pool (redis-py's 100) at ~100
open subscriptions: every later subscription, relay and rate-limit check then failed with
``MaxConnectionsError`` (answered ``SERVICE_UNAVAILABLE``: bench/gateway_bench.py)."""

from __future__ import annotations

import asyncio
from contextlib import suppress

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from services.common.logging import get_logger

_log = get_logger(__name__)

#: How long the reader waits for a message before looking again (and noticing it was closed).
READ_TIMEOUT_SECONDS = 1.0
#: How long a join waits for Redis to confirm the channel's subscription.
CONFIRM_TIMEOUT_SECONDS = 5.0
#: Pause after a broken connection before reading again (redis-py reconnects and subscribes
#: to the channels again on the next read).
RECONNECT_PAUSE_SECONDS = 0.5
#: Messages a slow subscriber may have waiting before older ones are dropped (each message is
#: a whole state: the latest one is what counts).
QUEUE_SIZE = 64


class Fanout:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._listeners: dict[str, set[asyncio.Queue[str]]] = {}
        self._confirmed: dict[str, asyncio.Event] = {}
        self._lock = asyncio.Lock()

    @property
    def channels(self) -> int:
        """Channels this replica is subscribed to (one per followed run, however many read it)."""
        return len(self._listeners)

    async def join(self, channel: str) -> asyncio.Queue[str]:
        """A queue receiving every message published on ``channel`` from the moment this
        returns (Redis has confirmed the subscription: a state published later is not missed)."""
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        async with self._lock:
            if self._pubsub is None:
                self._pubsub = self.redis.pubsub(ignore_subscribe_messages=False)
            listeners = self._listeners.get(channel)
            if listeners is None:
                self._listeners[channel] = listeners = set()
                self._confirmed[channel] = asyncio.Event()
                try:
                    await self._pubsub.subscribe(channel)
                except Exception:
                    del self._listeners[channel], self._confirmed[channel]
                    raise
                if self._reader is None or self._reader.done():
                    self._reader = asyncio.create_task(self._read(), name="fanout-reader")
            listeners.add(queue)
            confirmed = self._confirmed[channel]
        try:
            await asyncio.wait_for(confirmed.wait(), CONFIRM_TIMEOUT_SECONDS)
        except BaseException:
            await self.leave(channel, queue)
            raise
        return queue

    async def leave(self, channel: str, queue: asyncio.Queue[str]) -> None:
        async with self._lock:
            listeners = self._listeners.get(channel)
            if listeners is None:
                return
            listeners.discard(queue)
            if listeners:
                return
            del self._listeners[channel], self._confirmed[channel]
            if self._pubsub is not None:
                with suppress(Exception):  # a broken connection subscribes again without it
                    await self._pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        while self._pubsub is not None and self._listeners:
            try:
                message = await self._pubsub.get_message(timeout=READ_TIMEOUT_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Redis away: its subscribers hear nothing meanwhile
                _log.warning("fanout_read_failed", error=repr(error))
                await asyncio.sleep(RECONNECT_PAUSE_SECONDS)
                continue
            if message is None:
                continue
            channel = message.get("channel")
            if message.get("type") == "subscribe":
                confirmed = self._confirmed.get(channel)
                if confirmed is not None:
                    confirmed.set()
                continue
            if message.get("type") != "message":
                continue
            for queue in list(self._listeners.get(channel, ())):
                if queue.full():  # a subscriber that does not keep up misses older states
                    queue.get_nowait()
                queue.put_nowait(message["data"])

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._pubsub is not None:
            with suppress(Exception):
                await self._pubsub.aclose()
        self._pubsub = None
        self._listeners.clear()
        self._confirmed.clear()
