"""OpenTelemetry tracing: one TracerProvider per process, built from settings, with the libraries
we call instrumented (FastAPI, httpx, SQLAlchemy) and Temporal's tracing interceptor on the
client, so one trace follows a request gateway → workflow → activity → database.

With ``ADX_OTEL_EXPORTER=none`` (the default) nothing is instrumented and no interceptor is
added: tracing off costs nothing. See docs/observability.md.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import get_meter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

from services.common.settings import Settings

#: Requests to these paths (probes and scrapes; the gateway's mailed-link pages, whose query is
#: the link token: gateway/pages.py) never start a trace. Regexes searched in the URL sans query.
UNTRACED_URLS = "/health/,/metrics,^[a-z]+://[^/]+/(verify-email|reset-password)$"

_lock = threading.Lock()
_provider: TracerProvider | None = None


class SpanFileExporter(SpanExporter):
    """Appends each batch of spans as JSON lines with one ``O_APPEND`` write, so the processes of
    a stack can share one file (tests, local debugging)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        data = "".join(span.to_json(indent=None) + "\n" for span in spans).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


class InboundRootSampler(Sampler):
    """Starts traces only at inbound work (server spans: HTTP requests, Temporal runs), sampled
    by ratio; background chatter (polls, pool pings) with no inbound parent is not recorded."""

    def __init__(self, ratio: float) -> None:
        self._ratio = TraceIdRatioBased(ratio)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        if kind not in (SpanKind.SERVER, SpanKind.CONSUMER):
            return SamplingResult(Decision.DROP)
        return self._ratio.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"InboundRootSampler{{{self._ratio.get_description()}}}"


def _exporter(settings: Settings) -> SpanExporter:
    if settings.otel_exporter == "console":
        return ConsoleSpanExporter()
    if settings.otel_exporter == "file":
        return SpanFileExporter(settings.otel_file or settings.data_dir / "traces.jsonl")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=settings.otel_endpoint)


def configure_tracing(settings: Settings, service: str) -> TracerProvider | None:
    """Set up this process's tracing once (later calls return the first provider); ``None`` when
    tracing is off."""
    global _provider
    if settings.otel_exporter == "none":
        return _provider
    with _lock:
        if _provider is not None:
            return _provider
        provider = TracerProvider(
            resource=Resource.create(
                {
                    SERVICE_NAME: f"adx-{service}",
                    "service.namespace": "adx",
                    "deployment.environment": settings.env.value,
                }
            ),
            sampler=ParentBased(root=InboundRootSampler(settings.otel_sample_ratio)),
        )
        provider.add_span_processor(BatchSpanProcessor(_exporter(settings)))
        trace.set_tracer_provider(provider)
        HTTPXClientInstrumentor().instrument(tracer_provider=provider)
        _provider = provider
        return provider


def shutdown_tracing() -> None:
    """Flush and stop the exporter (blocking: call it off the event loop)."""
    if _provider is not None:
        _provider.shutdown()


def tracing_interceptors() -> list[Interceptor]:
    """Temporal client interceptors (workers built on the client inherit them)."""
    if _provider is None:
        return []
    return [TracingInterceptor(_provider.get_tracer("temporalio"))]


class DetachWebSocketWork:
    """A WebSocket connection (a GraphQL subscription) gets its one server span, but the work it
    sets off (progress polls every fraction of a second, for up to an hour) starts untraced
    instead of piling thousands of spans into that one trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        token = otel_context.attach(Context())
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)


def instrument_app(app: FastAPI) -> None:
    """Server spans for every request except probes and scrapes."""
    if _provider is not None:
        app.add_middleware(DetachWebSocketWork)  # inside the server span's middleware
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=_provider,
            excluded_urls=UNTRACED_URLS,
            exclude_spans=["receive", "send"],
        )


def instrument_engine(engine: AsyncEngine) -> None:
    """A span per SQL statement, child of whatever span runs the query."""
    if _provider is not None:
        EngineTracer(
            _provider.get_tracer("opentelemetry.instrumentation.sqlalchemy"),
            engine.sync_engine,
            get_meter("opentelemetry.instrumentation.sqlalchemy").create_up_down_counter(
                "db.client.connections.usage"
            ),
        )
