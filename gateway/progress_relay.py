"""Workflow progress relay: one replica polls a workflow's ``progress`` query and publishes
changes on Redis; every replica forwards them to its subscribers."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
)
from temporalio.service import RPCError, RPCStatusCode

from services.common.logging import get_logger
from storage.redis import RedisKeys
from workflows.common.progress import PROGRESS_QUERY, Progress

_log = get_logger(__name__)

TERMINAL = {
    WorkflowExecutionStatus.COMPLETED: "COMPLETED",
    WorkflowExecutionStatus.FAILED: "FAILED",
    WorkflowExecutionStatus.CANCELED: "CANCELED",
    WorkflowExecutionStatus.TERMINATED: "TERMINATED",
    WorkflowExecutionStatus.TIMED_OUT: "TIMED_OUT",
}
#: How long a relay's lock lives without renewal; another replica takes over after it lapses.
LOCK_TTL_SECONDS = 5
#: A progress query that takes longer than this (no worker polling) is skipped this round.
QUERY_TIMEOUT = timedelta(seconds=3)
#: How long a closed run's final state stays cached in Redis (it never changes; the TTL only
#: bounds what Redis holds).
FINAL_STATE_TTL_SECONDS = 3600


class WorkflowNotFound(Exception):
    pass


@dataclass
class RunState:
    """What a subscriber sees: the run's status, progress and, once closed, result or error."""

    id: str
    type: str
    status: str
    progress: dict[str, Any] | None
    result: Any = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL.values()

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)

    @classmethod
    def from_json(cls, raw: str) -> RunState:
        return cls(**json.loads(raw))


async def describe(client: Client, workflow_id: str) -> WorkflowExecutionDescription:
    """The latest run of ``workflow_id``; ``WorkflowNotFound`` when there is none."""
    try:
        return await client.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise WorkflowNotFound(workflow_id) from error
        raise


async def read_run_state(
    client: Client, workflow_id: str, description: WorkflowExecutionDescription | None = None
) -> RunState:
    """Query the latest run's progress and collect its outcome when closed (``description``:
    one the caller already fetched, saving a round trip)."""
    handle = client.get_workflow_handle(workflow_id)
    description = description or await describe(client, workflow_id)
    status = description.status or WorkflowExecutionStatus.RUNNING
    progress: dict[str, Any] | None = None
    try:
        value = await handle.query(PROGRESS_QUERY, result_type=Progress, rpc_timeout=QUERY_TIMEOUT)
        progress = asdict(value)
    except Exception as error:  # no worker yet, or a workflow without the query
        _log.debug("progress_query_failed", workflow_id=workflow_id, error=str(error))
    state = RunState(
        id=workflow_id,
        type=description.workflow_type,
        status=TERMINAL.get(status, "RUNNING"),
        progress=progress,
    )
    if status == WorkflowExecutionStatus.COMPLETED:
        state.result = await handle.result()
    elif status in TERMINAL:
        try:
            await handle.result()
        except WorkflowFailureError as error:
            cause = error.cause
            state.error = getattr(cause, "message", None) or str(cause)
    return state


class ProgressRelay:
    def __init__(
        self,
        temporal: Client,
        redis: Redis,
        keys: RedisKeys,
        poll_seconds: float,
        cache_key: bytes | None = None,
    ) -> None:
        self.temporal = temporal
        self.redis = redis
        self.keys = keys
        self.poll_seconds = poll_seconds
        self.replica = uuid.uuid4().hex
        self._pumps: dict[str, asyncio.Task[None]] = {}
        # Final states are sealed in Redis (AES-GCM under this key, bound to the run): Redis
        # holds no run's result in the clear. No key: not cached (every read asks Temporal).
        self._seal = AESGCM(cache_key) if cache_key else None
        #: In-flight and just-finished reads, shared by concurrent callers (single flight),
        #: kept ``poll_seconds``: no reader is staler than the relay's own stream.
        self._reads: dict[tuple[str, ...], tuple[float, asyncio.Future[Any]]] = {}
        #: Temporal reads made, by kind (describe, progress, result): the tests count them.
        self.temporal_reads: dict[str, int] = {"describe": 0, "progress": 0, "result": 0}

    def channel(self, workflow_id: str) -> str:
        return self.keys("wf", workflow_id, "progress")

    def _lock_key(self, workflow_id: str) -> str:
        return self.keys("wf", workflow_id, "relay")

    async def _shared(self, key: tuple[str, ...], read: Callable[[], Awaitable[Any]]) -> Any:
        """``read()`` once for every caller asking for ``key`` while it runs or within
        ``poll_seconds`` after it finished (a failure is not kept)."""
        now = time.monotonic()
        for stale in [
            k for k, (at, f) in self._reads.items() if f.done() and now - at > self.poll_seconds
        ]:
            del self._reads[stale]
        entry = self._reads.get(key)
        if entry is None:
            future: asyncio.Future[Any] = asyncio.ensure_future(read())
            self._reads[key] = (now, future)

            def forget(done: asyncio.Future[Any], key: tuple[str, ...] = key) -> None:
                if done.cancelled() or done.exception() is not None:
                    self._reads.pop(key, None)
                else:
                    self._reads[key] = (time.monotonic(), done)

            future.add_done_callback(forget)
            entry = self._reads[key]
        return await asyncio.shield(entry[1])

    async def describe(self, workflow_id: str) -> WorkflowExecutionDescription:
        """``describe``, shared by concurrent callers (see ``_shared``)."""

        async def read() -> WorkflowExecutionDescription:
            self.temporal_reads["describe"] += 1
            return await describe(self.temporal, workflow_id)

        return await self._shared(("describe", workflow_id), read)  # type: ignore[no-any-return]

    def _final_key(self, workflow_id: str, run_id: str) -> str:
        return self.keys("wf", workflow_id, "final", run_id)

    async def run_state(
        self, workflow_id: str, description: WorkflowExecutionDescription | None = None
    ) -> RunState:
        """The run's state: a closed run's from the Redis cache (read from Temporal once, by
        any replica), a running one's shared by concurrent readers of this replica."""
        description = description or await self.describe(workflow_id)
        run_id = description.run_id or ""
        closed = (description.status or WorkflowExecutionStatus.RUNNING) in TERMINAL
        if closed and self._seal is not None:
            cached = await self._cached(workflow_id, run_id)
            if cached is not None:
                return cached

        async def read() -> RunState:
            self.temporal_reads["progress"] += 1
            if closed:
                self.temporal_reads["result"] += 1
            return await read_run_state(self.temporal, workflow_id, description)

        state: RunState = await self._shared(("state", workflow_id, run_id), read)
        if state.done and closed and self._seal is not None:
            await self._store(workflow_id, run_id, state)
        return state

    async def _cached(self, workflow_id: str, run_id: str) -> RunState | None:
        assert self._seal is not None
        try:
            raw = await self.redis.get(self._final_key(workflow_id, run_id))
            if raw is None:
                return None
            sealed = base64.b64decode(raw)
            aad = f"{workflow_id}\n{run_id}".encode()
            return RunState.from_json(self._seal.decrypt(sealed[:12], sealed[12:], aad).decode())
        except Exception as error:  # unreadable (key rotated) or Redis down: ask Temporal
            _log.debug("final_state_cache_miss", workflow_id=workflow_id, error=repr(error))
            return None

    async def _store(self, workflow_id: str, run_id: str, state: RunState) -> None:
        assert self._seal is not None
        nonce = os.urandom(12)
        aad = f"{workflow_id}\n{run_id}".encode()
        sealed = base64.b64encode(nonce + self._seal.encrypt(nonce, state.to_json().encode(), aad))
        try:
            await self.redis.set(
                self._final_key(workflow_id, run_id), sealed.decode(), ex=FINAL_STATE_TTL_SECONDS
            )
        except Exception as error:
            _log.debug("final_state_cache_store_failed", workflow_id=workflow_id, error=repr(error))

    async def ensure_relay(self, workflow_id: str) -> None:
        """Start polling this workflow here unless another replica already does."""
        if workflow_id in self._pumps and not self._pumps[workflow_id].done():
            return
        if await self.redis.set(
            self._lock_key(workflow_id), self.replica, nx=True, ex=LOCK_TTL_SECONDS
        ):
            task = asyncio.create_task(self._pump(workflow_id), name=f"relay:{workflow_id}")
            self._pumps[workflow_id] = task
            task.add_done_callback(lambda _: self._pumps.pop(workflow_id, None))

    async def _pump(self, workflow_id: str) -> None:
        previous: str | None = None
        try:
            while True:
                state = await self.run_state(workflow_id)
                encoded = state.to_json()
                if encoded != previous:
                    await self.redis.publish(self.channel(workflow_id), encoded)
                    previous = encoded
                if state.done:
                    return
                await self.redis.expire(self._lock_key(workflow_id), LOCK_TTL_SECONDS)
                await asyncio.sleep(self.poll_seconds)
        except Exception as error:
            _log.warning("relay_stopped", workflow_id=workflow_id, error=repr(error))
        finally:
            # Release only our own lock so a replica that took over keeps its one.
            if await self.redis.get(self._lock_key(workflow_id)) == self.replica:
                await self.redis.delete(self._lock_key(workflow_id))

    async def subscribe(self, workflow_id: str, max_seconds: float) -> AsyncIterator[RunState]:
        """Yield each new state of the workflow until it closes or ``max_seconds`` pass."""
        deadline = time.monotonic() + max_seconds
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(self.channel(workflow_id))  # before reading the snapshot: no gap
        last: str | None = None
        try:
            # The latest run's state (at most ``poll_seconds`` old, shared with concurrent
            # subscribers; a closed run's from the cache): a reused workflow id shows its new run.
            first = await self.run_state(workflow_id)
            snapshot: str | None = first.to_json()
            if not first.done:
                await self.ensure_relay(workflow_id)
            while True:
                if snapshot is not None and snapshot != last:
                    last = snapshot
                    state = RunState.from_json(snapshot)
                    yield state
                    if state.done:
                        return
                if time.monotonic() >= deadline:
                    return
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                snapshot = message["data"] if message else None
                if message is None:
                    await self.ensure_relay(workflow_id)  # take over if the relaying replica died
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()

    async def aclose(self) -> None:
        for task in list(self._pumps.values()):
            task.cancel()
        await asyncio.gather(*self._pumps.values(), return_exceptions=True)


class RelayMetrics(Collector):
    """The relay on the gateway's ``/metrics``: runs this replica follows and its Temporal reads."""

    def __init__(self, relay: ProgressRelay) -> None:
        self.relay = relay

    def collect(self) -> Iterator[Metric]:
        followed = GaugeMetricFamily(
            "adx_gateway_relay_followed_runs", "Workflow runs this replica's relay polls."
        )
        followed.add_metric([], sum(1 for task in self.relay._pumps.values() if not task.done()))
        reads = CounterMetricFamily(
            "adx_gateway_relay_temporal_reads",
            "Temporal reads of the relay by kind (describe, progress, result).",
            labels=["kind"],
        )
        for kind, count in self.relay.temporal_reads.items():
            reads.add_metric([kind], count)
        yield from (followed, reads)
