"""Liveness, readiness (Temporal, PostgreSQL, Redis reported separately) and Prometheus metrics
(HTTP requests by route and status, plus the Temporal SDK's own series).

Where the metrics are served (docs/observability.md): with ``ADX_METRICS_PORT`` set, on that
port only (``services.common.metrics.serve_metrics``, started by the runner), and the API port
has no ``/metrics`` route at all (``health_router(api_metrics=False)``); unset (the development default), on the
API port as ``GET /metrics``, a development convenience."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.metrics import DependencyChecks, temporal_metrics
from services.common.resources import Resources
from storage.db import ping

CHECK_TIMEOUT_SECONDS = 2.0
#: Latency buckets (seconds): 0.2 is the direct-call SLO's bound (deploy/monitoring/rules).
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METRICS_PATH = "/metrics"
#: Name of the API port's metrics route.
_METRICS_ROUTE_NAME = "adx_api_port_metrics"


async def _check(probe: Callable[[], Awaitable[object]]) -> str:
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT_SECONDS)
        return "ok"
    except TimeoutError:
        return "error: timed out"
    except Exception as error:  # any failure means "not ready"; the reason is reported
        return f"error: {type(error).__name__}"


async def readiness(
    resources: Resources, observed: DependencyChecks | None = None
) -> dict[str, str]:
    checks: dict[str, Callable[[], Awaitable[object]]] = {
        "temporal": resources.temporal.service_client.check_health,
        "redis": resources.redis.ping,
    }
    if resources.engine is not None:
        engine = resources.engine
        checks["postgres"] = lambda: ping(engine)
    names = list(checks)

    async def timed(name: str) -> str:
        start = time.perf_counter()
        result = await _check(checks[name])
        if observed is not None:
            observed.observe(name, time.perf_counter() - start, result == "ok")
        return result

    results = await asyncio.gather(*(timed(n) for n in names))
    return dict(zip(names, results, strict=True))


class Readiness(BaseModel):
    """``status`` ``ok`` (200) or ``unavailable`` (503); each dependency ``ok`` or ``error: …``."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, str]


def health_router(*, api_metrics: bool = True) -> APIRouter:
    """Probes, and ``GET /metrics`` when ``api_metrics`` (``ADX_METRICS_PORT`` unset)."""
    router = APIRouter(tags=["health"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/health/ready",
        response_model=Readiness,
        responses={503: {"description": "A dependency is down", "model": Readiness}},
    )
    async def ready(request: Request) -> JSONResponse:
        metrics: HttpMetrics = request.app.state.metrics
        checks = await readiness(request.app.state.resources, metrics.dependencies)
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    if not api_metrics:
        return router

    @router.get(METRICS_PATH, include_in_schema=False, name=_METRICS_ROUTE_NAME)
    async def metrics(request: Request) -> Response:
        registry: CollectorRegistry = request.app.state.metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


def metrics_on_api_port(metrics_port: int | None) -> bool:
    """Whether the API port serves ``/metrics``: only while ``ADX_METRICS_PORT`` is unset."""
    return metrics_port is None


class HttpMetrics:
    """Request counters and latency histograms in a per-app registry."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "adx_http_requests_total",
            "HTTP requests",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "adx_http_request_duration_seconds",
            "HTTP request latency",
            ["service", "method", "route"],
            registry=self.registry,
            buckets=HTTP_BUCKETS,
        )
        self.service = service
        self.dependencies = DependencyChecks(service, self.registry)
        self.registry.register(temporal_metrics())  # the process's Temporal SDK metrics


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._cache: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            requests, latency = self._series(scope["method"], route, status)
            requests.inc()
            latency.observe(time.perf_counter() - start)

    def _series(self, method: str, route: str, status: int) -> tuple[Any, Any]:
        """The labelled counter and histogram of a (method, route, status): looked up once (a
        ``labels()`` call validates and locks on every request). Routes are the app's templates
        (or "unmatched"), so the cache stays small."""
        key = (method, route, status)
        series = self._cache.get(key)
        if series is None:
            labels = (self.metrics.service, method, route)
            series = self._cache[key] = (
                self.metrics.requests.labels(*labels, str(status)),
                self.metrics.latency.labels(*labels),
            )
        return series
