"""Workflow progress relay: one replica follows a workflow (a long poll of its history; the
``progress`` query once per completed workflow task) and publishes changes on Redis; every
replica forwards them to its subscribers (one pub/sub connection each: ``gateway/fanout.py``)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
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
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHistoryEventFilterType,
)
from temporalio.service import RPCError, RPCStatusCode

from gateway.fanout import Fanout
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
#: Per-call bound on a history long poll (the server answers an idle one after ~20 s).
LONG_POLL_TIMEOUT = timedelta(seconds=40)
#: History events after which the run's state may have changed: a completed workflow task (its
#: commands and state changes) or the run's close.
_CHANGED = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


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


async def describe(
    client: Client, workflow_id: str, run_id: str | None = None
) -> WorkflowExecutionDescription:
    """The latest run of ``workflow_id`` (or run ``run_id``); ``WorkflowNotFound`` when there
    is none."""
    try:
        return await client.get_workflow_handle(workflow_id, run_id=run_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise WorkflowNotFound(workflow_id) from error
        raise


async def read_run_state(
    client: Client, workflow_id: str, description: WorkflowExecutionDescription | None = None
) -> RunState:
    """Query the described run's progress and collect its outcome when closed (``description``:
    one the caller already fetched, saving a round trip; the reads name its run, so a newer run
    under the same id never answers for it)."""
    description = description or await describe(client, workflow_id)
    handle = client.get_workflow_handle(workflow_id, run_id=description.run_id or None)
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


@dataclass
class _Followed:
    """A run this replica's pump follows: its description and the state last published."""

    description: WorkflowExecutionDescription
    #: None until the pump's first read.
    state: RunState | None


class ProgressRelay:
    """Reads of run state for the gateway, and the streams of followed runs.

    A run is *followed* by one pump (on the replica holding its Redis lock) while it has
    subscribers: one history long poll at a time, the ``progress`` query read again only after a
    completed workflow task or the close, each new state published on the run's channel. While
    the long poll is open the run is still the latest of its workflow id (a run closing ends the
    poll, and the pump drops the entry before anything else runs), so readers of a followed run
    take the pump's description and state without asking Temporal. Nothing else is kept past
    the call that read it, except per run id: a describe is shared by concurrent callers only
    while in flight (a new run may start under the id the moment the last one closed), a state
    read by run id for ``poll_seconds``, a closed run's final state in Redis."""

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
        self.fanout = Fanout(redis)
        self._pumps: dict[str, asyncio.Task[None]] = {}
        self._followed: dict[str, _Followed] = {}
        self._renewals: asyncio.Task[None] | None = None
        #: When this replica last tried to take a run's relay lock (one try a second per run,
        #: however many of its subscribers heard nothing).
        self._lock_tried: dict[str, float] = {}
        # Final states are sealed in Redis (AES-GCM under this key, bound to the run): Redis
        # holds no run's result in the clear. No key: not cached (every read asks Temporal).
        self._seal = AESGCM(cache_key) if cache_key else None
        #: In-flight reads shared by concurrent callers (single flight), a state read kept
        #: ``poll_seconds`` after it finished (keyed by run id).
        self._reads: dict[tuple[str, ...], tuple[float, float, asyncio.Future[Any]]] = {}
        #: Temporal reads made, by kind (describe, progress, result, history long polls): the
        #: tests count them.
        self.temporal_reads: dict[str, int] = {
            "describe": 0,
            "progress": 0,
            "result": 0,
            "history": 0,
        }

    def channel(self, workflow_id: str) -> str:
        return self.keys("wf", workflow_id, "progress")

    def _lock_key(self, workflow_id: str) -> str:
        return self.keys("wf", workflow_id, "relay")

    async def _shared(
        self, key: tuple[str, ...], read: Callable[[], Awaitable[Any]], keep: float
    ) -> Any:
        """``read()`` once for every caller asking for ``key`` while it runs or within ``keep``
        seconds after it finished (a failure is not kept)."""
        now = time.monotonic()
        for stale in [
            k for k, (at, kept, f) in self._reads.items() if f.done() and now - at > kept
        ]:
            del self._reads[stale]
        entry = self._reads.get(key)
        if entry is None:
            future: asyncio.Future[Any] = asyncio.ensure_future(read())
            self._reads[key] = (now, keep, future)

            def forget(done: asyncio.Future[Any], key: tuple[str, ...] = key) -> None:
                if self._reads.get(key, (0.0, 0.0, None))[2] is not done:
                    return  # dropped while it ran: a newer read owns the key
                if keep <= 0 or done.cancelled() or done.exception() is not None:
                    self._reads.pop(key, None)
                else:
                    self._reads[key] = (time.monotonic(), keep, done)

            future.add_done_callback(forget)
            entry = self._reads[key]
        return await asyncio.shield(entry[2])

    async def describe(
        self, workflow_id: str, *, fresh: bool = False
    ) -> WorkflowExecutionDescription:
        """The latest run: the followed one's description, else one ``describe`` shared by the
        callers while it is in flight. ``fresh``: asked of Temporal now, by this caller alone
        (an access check that failed on a shared answer asks again: the run its token names
        may have started since)."""
        if not fresh:
            followed = self._followed.get(workflow_id)
            if followed is not None:
                return followed.description

        async def read() -> WorkflowExecutionDescription:
            self.temporal_reads["describe"] += 1
            return await describe(self.temporal, workflow_id)

        if fresh:
            return await read()
        return await self._shared(("describe", workflow_id), read, 0.0)  # type: ignore[no-any-return]

    async def progress_of(self, workflow_id: str, run_id: str) -> dict[str, Any] | None:
        """Run ``run_id``'s ``progress`` query alone (a mutation's answer asking for it), shared
        by concurrent readers of the run; None while it cannot answer."""

        async def read() -> dict[str, Any] | None:
            self.temporal_reads["progress"] += 1
            handle = self.temporal.get_workflow_handle(workflow_id, run_id=run_id)
            try:
                value = await handle.query(
                    PROGRESS_QUERY, result_type=Progress, rpc_timeout=QUERY_TIMEOUT
                )
            except Exception as error:  # no worker yet, or a workflow without the query
                _log.debug("progress_query_failed", workflow_id=workflow_id, error=str(error))
                return None
            return asdict(value)

        key = ("progress", workflow_id, run_id)
        return await self._shared(key, read, self.poll_seconds)  # type: ignore[no-any-return]

    def _final_key(self, workflow_id: str, run_id: str) -> str:
        return self.keys("wf", workflow_id, "final", run_id)

    async def run_state(
        self,
        workflow_id: str,
        description: WorkflowExecutionDescription | None = None,
        *,
        reread: bool = False,
    ) -> RunState:
        """The described run's state: a followed run's as its pump last published it, a
        closed run's from the Redis cache (read from Temporal once, by any replica), else read
        once for the concurrent readers of this replica (and kept ``poll_seconds``).
        ``reread``: read from Temporal now (the pump: the run's history moved)."""
        description = description or await self.describe(workflow_id)
        run_id = description.run_id or ""
        closed = (description.status or WorkflowExecutionStatus.RUNNING) in TERMINAL
        if closed and self._seal is not None:
            cached = await self._cached(workflow_id, run_id)
            if cached is not None:
                return cached
        followed = self._followed.get(workflow_id)
        if reread:
            self._reads.pop(("state", workflow_id, run_id, "closed" if closed else "open"), None)
        elif (
            not closed
            and followed is not None
            and followed.state is not None
            and followed.description.run_id == run_id
        ):
            return followed.state

        async def read() -> RunState:
            self.temporal_reads["progress"] += 1
            if closed:
                self.temporal_reads["result"] += 1
            return await read_run_state(self.temporal, workflow_id, description)

        # Keyed by closed-ness too: a state read while the run was open is no answer once a
        # describe says it closed (it would answer RUNNING for up to poll_seconds after the end).
        state: RunState = await self._shared(
            ("state", workflow_id, run_id, "closed" if closed else "open"), read, self.poll_seconds
        )
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

    async def ensure_relay(
        self, workflow_id: str, description: WorkflowExecutionDescription | None = None
    ) -> None:
        """Follow this workflow here unless a pump already does (here, or on another replica:
        its lock; tried at most once a second per run)."""
        pump = self._pumps.get(workflow_id)
        if pump is not None and not pump.done():
            return
        now = time.monotonic()
        if now - self._lock_tried.get(workflow_id, -1.0) < 1.0:
            return
        self._lock_tried[workflow_id] = now
        if await self.redis.set(
            self._lock_key(workflow_id), self.replica, nx=True, ex=LOCK_TTL_SECONDS
        ):
            if workflow_id in self._pumps and not self._pumps[workflow_id].done():
                return  # started meanwhile by another subscriber
            task = asyncio.create_task(
                self._pump(workflow_id, description), name=f"relay:{workflow_id}"
            )
            self._pumps[workflow_id] = task
            if description is not None:  # its state follows with the pump's first read
                self._followed[workflow_id] = _Followed(description, None)

            def ended(done: asyncio.Task[None]) -> None:
                if self._pumps.get(workflow_id) is done:
                    del self._pumps[workflow_id]
                self._lock_tried.pop(workflow_id, None)

            task.add_done_callback(ended)

    async def _pump(
        self, workflow_id: str, description: WorkflowExecutionDescription | None
    ) -> None:
        """Publish the run's states until it closes: a long poll of its history, the state read
        again once per completed workflow task or close; the busy poll when the long poll fails."""
        self._start_renewals()
        published: list[str | None] = [None]
        try:
            try:
                await self._follow(workflow_id, published, description)
            except Exception as error:
                _log.info("relay_long_poll_failed", workflow_id=workflow_id, error=repr(error))
                self._followed.pop(workflow_id, None)
                await self._poll(workflow_id, published)
        except Exception as error:
            _log.warning("relay_stopped", workflow_id=workflow_id, error=repr(error))
        finally:
            self._followed.pop(workflow_id, None)
            # Release only our own lock so a replica that took over keeps its one.
            with contextlib.suppress(Exception):
                if await self.redis.get(self._lock_key(workflow_id)) == self.replica:
                    await self.redis.delete(self._lock_key(workflow_id))

    async def _publish(
        self,
        workflow_id: str,
        published: list[str | None],
        description: WorkflowExecutionDescription,
        *,
        reread: bool = False,
    ) -> RunState:
        """The described run's state, published if it differs from ``published[0]``; ``reread``:
        not a shared earlier read (the run's history moved since)."""
        state = await self.run_state(workflow_id, description, reread=reread)
        encoded = state.to_json()
        if encoded != published[0]:
            await self.redis.publish(self.channel(workflow_id), encoded)
            published[0] = encoded
        return state

    async def _follow(
        self,
        workflow_id: str,
        published: list[str | None],
        description: WorkflowExecutionDescription | None,
    ) -> None:
        """One long poll at a time on the run's history; when it closes by continuing as new,
        the next run's."""
        while True:
            description = description or await self.describe(workflow_id, fresh=True)
            state = await self._publish(workflow_id, published, description)
            if state.done:
                return
            run_id = description.run_id or ""
            self._followed[workflow_id] = _Followed(description, state)
            # Events up to the describe's history length are already in the state read.
            seen = description.raw_description.workflow_execution_info.history_length
            history = self.temporal.get_workflow_handle(
                workflow_id, run_id=run_id
            ).fetch_history_events(
                wait_new_event=True,
                event_filter_type=WorkflowHistoryEventFilterType.ALL_EVENT,
                rpc_timeout=LONG_POLL_TIMEOUT,
            )
            while True:
                # Each call carries the last page's token: it answers only events after it
                # (the history is read once, not again per poll).
                self.temporal_reads["history"] += 1
                await history.fetch_next_page()
                events = [e for e in history.current_page or () if e.event_id > seen]
                seen = max([seen, *(e.event_id for e in events)])
                if history.next_page_token is None:  # the run closed
                    # Before any other reader runs: this run is no longer the latest for sure.
                    self._followed.pop(workflow_id, None)
                    break
                if any(e.event_type in _CHANGED for e in events):
                    state = await self._publish(workflow_id, published, description, reread=True)
                    if workflow_id in self._followed:
                        self._followed[workflow_id].state = state
            # This run's final state (by its run id, whatever started under the id since).
            closed = await describe(self.temporal, workflow_id, run_id)
            self.temporal_reads["describe"] += 1
            if closed.status != WorkflowExecutionStatus.CONTINUED_AS_NEW:
                await self._publish(workflow_id, published, closed, reread=True)
                return
            description = None  # the next run of the chain

    async def _poll(self, workflow_id: str, published: list[str | None]) -> None:
        """The fallback: the state read every ``poll_seconds`` until the run closes."""
        while True:
            description = await self.describe(workflow_id, fresh=True)
            if (await self._publish(workflow_id, published, description, reread=True)).done:
                return
            await asyncio.sleep(self.poll_seconds)

    def _start_renewals(self) -> None:
        if self._renewals is None or self._renewals.done():
            self._renewals = asyncio.create_task(self._renew_locks(), name="relay-locks")

    async def _renew_locks(self) -> None:
        """Renew the locks of every run this replica follows (a long poll may wait ~20 s), in
        one pipeline a round: one Redis connection for them all, not one per run."""
        while self._pumps:
            await asyncio.sleep(LOCK_TTL_SECONDS / 3)
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for workflow_id in list(self._pumps):
                        pipe.expire(self._lock_key(workflow_id), LOCK_TTL_SECONDS)
                    await pipe.execute()
            except Exception as error:  # Redis away: renewed next round, or they lapse
                _log.debug("relay_lock_renewal_failed", error=repr(error))

    async def subscribe(
        self,
        workflow_id: str,
        max_seconds: float,
        description: WorkflowExecutionDescription | None = None,
    ) -> AsyncIterator[RunState]:
        """Yield each new state of the workflow until it closes or ``max_seconds`` pass
        (``description``: the run as the access check just described it)."""
        deadline = time.monotonic() + max_seconds
        channel = self.channel(workflow_id)
        queue = await self.fanout.join(channel)  # before reading the snapshot: no gap
        last: str | None = None
        try:
            # Followed from now on (before the snapshot: subscribers arriving meanwhile take the
            # pump's description rather than describing the run again).
            running = description is None or description.status in (
                None,
                WorkflowExecutionStatus.RUNNING,
            )
            if running:
                await self.ensure_relay(workflow_id, description)
            # The latest run's state (a followed run's as last published, else shared with
            # concurrent readers; a closed run's from the cache).
            first = await self.run_state(workflow_id, description)
            snapshot: str | None = first.to_json()
            while True:
                if snapshot is not None and snapshot != last:
                    last = snapshot
                    state = RunState.from_json(snapshot)
                    yield state
                    if state.done:
                        return
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                try:
                    snapshot = await asyncio.wait_for(queue.get(), min(1.0, left))
                except TimeoutError:
                    snapshot = None
                    await self._keep_relayed(workflow_id)
        finally:
            await self.fanout.leave(channel, queue)

    async def _keep_relayed(self, workflow_id: str) -> None:
        """Take the relay over if the relaying pump is gone (its replica died, or Redis failed
        under it). Redis failing here too only waits for the next round: the subscription stays
        open through a Redis outage and hears the run again once Redis answers (ending it with
        ``SERVICE_UNAVAILABLE`` a second into a stalled Redis made every subscriber reconnect)."""
        try:
            await self.ensure_relay(workflow_id)
        except (RedisConnectionError, RedisTimeoutError) as error:
            _log.info("relay_takeover_deferred", workflow_id=workflow_id, error=repr(error))

    async def aclose(self) -> None:
        for task in list(self._pumps.values()):
            task.cancel()
        await asyncio.gather(*self._pumps.values(), return_exceptions=True)
        if self._renewals is not None:
            self._renewals.cancel()
            await asyncio.gather(self._renewals, return_exceptions=True)
        await self.fanout.aclose()


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
