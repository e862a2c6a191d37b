"""Temporal client and worker factories built from settings."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import structlog
from temporalio import activity
from temporalio.client import (
    CancelWorkflowInput,
    Client,
    DescribeWorkflowInput,
    OutboundInterceptor,
    QueryWorkflowInput,
    SignalWorkflowInput,
    StartWorkflowInput,
    TerminateWorkflowInput,
    TLSConfig,
    WorkflowHandle,
)
from temporalio.client import Interceptor as ClientInterceptor
from temporalio.service import RPCError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    Worker,
)

from services.common.codec import data_converter
from services.common.logging import get_logger
from services.common.metrics import temporal_runtime
from services.common.security_interceptor import SecurityContextInterceptor
from services.common.settings import Settings
from services.common.tracing import tracing_interceptors
from services.common.worker_versioning import deployment_config

_log = get_logger(__name__)


class TemporalUnavailableError(RuntimeError):
    """Temporal could not be reached after the configured attempts."""


def _tls_config(settings: Settings) -> TLSConfig | bool:
    if not (settings.temporal_tls or settings.temporal_api_key or settings.temporal_tls_cert):
        return False
    read = lambda p: p.read_bytes() if p else None  # noqa: E731
    if not (settings.temporal_tls_cert or settings.temporal_tls_ca):
        return True
    return TLSConfig(
        server_root_ca_cert=read(settings.temporal_tls_ca),
        client_cert=read(settings.temporal_tls_cert),
        client_private_key=read(settings.temporal_tls_key),
    )


async def connect_temporal(settings: Settings, *, attempts: int | None = None) -> Client:
    """Connect with bounded retries; the final error names the address and namespace."""
    attempts = attempts or settings.temporal_connect_attempts
    delay = settings.temporal_connect_backoff_seconds
    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            return await Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                tls=_tls_config(settings),
                connect_timeout=timedelta(seconds=5),
                data_converter=data_converter(settings),
                runtime=temporal_runtime(),  # Temporal SDK metrics (services.common.metrics)
                # Workers built on this client inherit these interceptors.
                interceptors=[
                    *tracing_interceptors(),
                    SecurityContextInterceptor(data_converter(settings)),
                ],
                api_key=(
                    settings.temporal_api_key.get_secret_value()
                    if settings.temporal_api_key
                    else None
                ),
            )
        except (RPCError, RuntimeError, OSError) as error:
            last = error
            _log.warning(
                "temporal_connect_retry",
                address=settings.temporal_address,
                attempt=attempt,
                attempts=attempts,
                error=str(error),
            )
            if attempt < attempts:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
    raise TemporalUnavailableError(
        f"cannot reach Temporal at {settings.temporal_address} "
        f"(namespace {settings.temporal_namespace!r}) after {attempts} attempts: {last}"
    )


class _DeadlineOutbound(OutboundInterceptor):
    """Each call ends within the deadline: a per-attempt gRPC deadline (a stalled server) and
    one bound on the whole call including the SDK's retries (a refused connection is retried for
    10 s by default). Past it the caller gets ``TimeoutError``. Not bounded: updates (which may
    wait for their handler) and history long polls (``handle.result()``)."""

    def __init__(self, next: OutboundInterceptor, seconds: float) -> None:
        super().__init__(next)
        self._seconds = seconds
        self._rpc_timeout = timedelta(seconds=seconds)

    async def _bounded(self, call: Callable[[Any], Awaitable[Any]], input: Any) -> Any:
        if input.rpc_timeout is None or input.rpc_timeout > self._rpc_timeout:
            input.rpc_timeout = self._rpc_timeout
        async with asyncio.timeout(self._seconds):
            return await call(input)

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        return await self._bounded(self.next.start_workflow, input)  # type: ignore[no-any-return]

    async def describe_workflow(self, input: DescribeWorkflowInput) -> Any:
        return await self._bounded(self.next.describe_workflow, input)

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        return await self._bounded(self.next.query_workflow, input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        await self._bounded(self.next.signal_workflow, input)

    async def cancel_workflow(self, input: CancelWorkflowInput) -> None:
        await self._bounded(self.next.cancel_workflow, input)

    async def terminate_workflow(self, input: TerminateWorkflowInput) -> None:
        await self._bounded(self.next.terminate_workflow, input)


class _Deadline(ClientInterceptor):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _DeadlineOutbound(next, self.seconds)


def with_rpc_deadline(client: Client, seconds: float) -> Client:
    """``client`` (same connection, interceptors and converter) whose workflow calls give up
    after ``seconds``: for request paths, which must answer SERVICE_UNAVAILABLE within their
    deadline when Temporal is down. Workers keep the SDK's patient retries (a completion lost to
    a short deadline would re-run an activity)."""
    config = client.config()
    config["interceptors"] = [_Deadline(seconds), *config["interceptors"]]
    return Client(**config)


class _ActivityLogContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        structlog.contextvars.bind_contextvars(
            workflow_id=info.workflow_id,
            workflow_run_id=info.workflow_run_id,
            activity_id=info.activity_id,
            activity_type=info.activity_type,
            attempt=info.attempt,
        )
        return await self.next.execute_activity(input)


class LogContextInterceptor(Interceptor):
    """Binds workflow and activity ids into every log line an activity writes."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityLogContext(next)


def _security_interceptors(client: Client) -> list[Interceptor]:
    """A client from ``connect_temporal`` brings the security-context interceptor (workers
    inherit client interceptors); any other client gets one here, so no worker runs without."""
    if any(isinstance(i, SecurityContextInterceptor) for i in client.config()["interceptors"]):
        return []
    return [SecurityContextInterceptor(client.data_converter)]


def build_worker(
    client: Client,
    settings: Settings,
    *,
    task_queue: str,
    workflows: Sequence[type] = (),
    activities: Sequence[Callable[..., Any]] = (),
) -> Worker:
    """A worker on one task queue with concurrency limits, graceful shutdown and its worker
    deployment version (worker versioning) from settings."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(workflows),
        activities=list(activities),
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_graceful_shutdown_seconds),
        interceptors=[LogContextInterceptor(), *_security_interceptors(client)],
        # Versioned with ADX_WORKER_BUILD_ID (services/common/worker_versioning.py).
        deployment_config=deployment_config(settings, task_queue),
    )
