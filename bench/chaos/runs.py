"""What Temporal says about the load's runs: their close status, and an activity running now (to
kill its worker mid-activity)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from bench.chaos.stack import ChaosStack
from bench.mixed_load import MixedLoad
from services.common.temporal import connect_temporal

#: How many describes are in flight at once (the dev server shares the machine with the load).
_CONCURRENCY = 16
#: The status a run Temporal does not know has in the counts: a started run that was lost.
NOT_FOUND = "NOT_FOUND"


async def stack_client(stack: ChaosStack) -> Client:
    """A Temporal client of the stack's namespace, with the platform's data converter."""
    return await connect_temporal(stack.settings())


async def _status(client: Client, workflow_id: str, limit: asyncio.Semaphore) -> str:
    async with limit:
        try:
            description = await client.get_workflow_handle(workflow_id).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return NOT_FOUND
            raise
    return description.status.name if description.status is not None else "UNKNOWN"


@dataclass
class RunCensus:
    """The close status of every run the load started (``RUNNING`` after the wait: stuck)."""

    statuses: dict[str, str] = field(default_factory=dict)
    waited_seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        return dict(Counter(self.statuses.values()))

    def open_runs(self) -> list[str]:
        return [wid for wid, status in self.statuses.items() if status == "RUNNING"]


async def wait_closed(
    client: Client, workflow_ids: Iterable[str], within: float, poll: float = 1.0
) -> RunCensus:
    """Describe every run until none is RUNNING, or ``within`` seconds; returns their statuses.

    A run Temporal does not know at all (``NOT_FOUND``) is retried until then too: right
    after a dev server restart its visibility may lag, but the run itself must exist.
    """
    started = time.monotonic()
    limit = asyncio.Semaphore(_CONCURRENCY)
    census = RunCensus(statuses=dict.fromkeys(dict.fromkeys(workflow_ids), "RUNNING"))
    pending = list(census.statuses)
    while True:
        results = await asyncio.gather(
            *(_status(client, wid, limit) for wid in pending), return_exceptions=True
        )
        for wid, result in zip(pending, results, strict=True):
            census.statuses[wid] = result if isinstance(result, str) else "RUNNING"
        pending = [w for w, s in census.statuses.items() if s in ("RUNNING", NOT_FOUND)]
        census.waited_seconds = time.monotonic() - started
        if not pending or census.waited_seconds >= within:
            return census
        await asyncio.sleep(poll)


@dataclass(frozen=True)
class RunningActivity:
    """An activity attempt a worker has started and not finished: the moment to kill it."""

    workflow_id: str
    activity_type: str
    attempt: int
    worker_identity: str

    @property
    def worker_pid(self) -> int | None:
        """The worker's pid: the SDK's default identity is ``<pid>@<host>``."""
        head = self.worker_identity.partition("@")[0]
        return int(head) if head.isdigit() else None


async def running_activity(
    client: Client, workflow_ids: Sequence[str], within: float, poll: float = 0.05
) -> RunningActivity | None:
    """The first started activity found in the open runs of ``workflow_ids`` within ``within``
    seconds (the newest runs first: those are the ones still running), or None."""
    deadline = time.monotonic() + within
    limit = asyncio.Semaphore(_CONCURRENCY)
    closed: set[str] = set()

    async def probe(workflow_id: str) -> RunningActivity | None:
        async with limit:
            try:
                description = await client.get_workflow_handle(workflow_id).describe()
            except RPCError:
                return None
        if description.status != WorkflowExecutionStatus.RUNNING:
            closed.add(workflow_id)
            return None
        for pending in description.raw_description.pending_activities:
            if pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
                return RunningActivity(
                    workflow_id,
                    pending.activity_type.name,
                    pending.attempt,
                    pending.last_worker_identity,
                )
        return None

    while time.monotonic() < deadline:
        candidates = [w for w in reversed(workflow_ids) if w not in closed][:_CONCURRENCY]
        for found in await asyncio.gather(*(probe(w) for w in candidates)):
            if found is not None:
                return found
        await asyncio.sleep(poll)
    return None


async def wait_for_runs(load: MixedLoad, count: int, within: float) -> None:
    """Until the load has started ``count`` runs (or ``within`` seconds passed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if len(load.started_runs) >= count:
            return
        await asyncio.sleep(0.1)
