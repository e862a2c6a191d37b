"""Workflow progress relay: one replica polls a workflow's ``progress`` query and publishes
changes on Redis; every replica forwards them to its subscribers."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

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
        self, temporal: Client, redis: Redis, keys: RedisKeys, poll_seconds: float
    ) -> None:
        self.temporal = temporal
        self.redis = redis
        self.keys = keys
        self.poll_seconds = poll_seconds
        self.replica = uuid.uuid4().hex
        self._pumps: dict[str, asyncio.Task[None]] = {}

    def channel(self, workflow_id: str) -> str:
        return self.keys("wf", workflow_id, "progress")

    def _lock_key(self, workflow_id: str) -> str:
        return self.keys("wf", workflow_id, "relay")

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
                state = await read_run_state(self.temporal, workflow_id)
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
            # A fresh read (not a cached copy) so a reused workflow id never shows an old run.
            snapshot: str | None = (await read_run_state(self.temporal, workflow_id)).to_json()
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
