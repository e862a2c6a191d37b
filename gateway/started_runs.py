"""The runs a request started, as their starts answered them: a mutation answers its run from
the start alone (id, run id, type) instead of reading it back from Temporal (``describe``, then
the ``progress`` query, which waits for the worker's first workflow task: two round trips a
bare start does not make, bench/gateway_bench.py). Recorded by a client interceptor of the
gateway's Temporal client, for the code running inside ``recording()`` only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client, Interceptor, OutboundInterceptor, StartWorkflowInput


@dataclass(frozen=True)
class StartedRun:
    workflow_id: str
    run_id: str
    #: The run chain's first run id (what a run access token is bound to).
    first_run_id: str
    workflow_type: str


_STARTED: ContextVar[dict[str, StartedRun] | None] = ContextVar("adx_started_runs", default=None)


@contextmanager
def recording() -> Iterator[dict[str, StartedRun]]:
    """Every workflow started inside the block, by workflow id."""
    started: dict[str, StartedRun] = {}
    token = _STARTED.set(started)
    try:
        yield started
    finally:
        _STARTED.reset(token)


class _Outbound(OutboundInterceptor):
    async def start_workflow(self, input: StartWorkflowInput) -> Any:
        handle = await self.next.start_workflow(input)
        started = _STARTED.get()
        if started is not None and handle.result_run_id:
            started[input.id] = StartedRun(
                workflow_id=input.id,
                run_id=handle.result_run_id,
                first_run_id=handle.first_execution_run_id or handle.result_run_id,
                workflow_type=input.workflow,
            )
        return handle


class _Recorder(Interceptor):
    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Outbound(next)


def with_started_runs(client: Client) -> Client:
    """``client`` (same connection, interceptors and converter) recording its starts."""
    config = client.config()
    config["interceptors"] = [_Recorder(), *config["interceptors"]]
    return Client(**config)
