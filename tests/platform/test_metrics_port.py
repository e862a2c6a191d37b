"""Where ``/metrics`` is served (docs/observability.md): with ``ADX_METRICS_PORT`` set, the API
port has no ``/metrics`` route (404, not on the allowlist); unset, it is a public route of the
API port (development). In-process apps, no infrastructure: nothing here reaches Redis or
Temporal. The running processes are tested in tests/platform/test_temporal_metrics.py."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from services.common.app import create_app
from services.common.metrics import serve_metrics, worker_registry
from services.common.principal import API_PORT_METRICS_ROUTES, public_reason, route_operations
from services.common.resources import Resources
from services.common.settings import ServiceName, Settings
from services.devstack.ports import free_port
from storage.blobs import LocalBlobStore
from storage.redis import RedisKeys, create_redis


def app_with(tmp_path: Path, metrics_port: int | None) -> FastAPI:
    settings = Settings(_env_file=None, metrics_port=metrics_port)  # type: ignore[call-arg]
    resources = Resources(
        settings=settings,
        service=ServiceName.tenant,
        temporal=cast(Client, None),  # never used by these routes
        redis=create_redis("redis://127.0.0.1:1/0"),  # lazy: never connected here
        redis_keys=RedisKeys("test-metrics-port"),
        blobs=LocalBlobStore(tmp_path),
    )
    return create_app(resources, title="metrics port")


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await client.get(path)


def routes(app: FastAPI) -> set[tuple[str, str]]:
    return {(method, path) for _, method, path in route_operations(app)}


async def test_without_a_metrics_port_the_api_port_serves_public_metrics(tmp_path: Path) -> None:
    app = app_with(tmp_path, None)
    assert ("GET", "/metrics") in routes(app)
    assert public_reason(ServiceName.tenant, "GET", "/metrics") is not None
    response = await get(app, "/metrics")  # no token
    assert response.status_code == 200
    assert "adx_http_requests_total" in response.text


async def test_with_a_metrics_port_the_api_port_has_no_metrics_route(tmp_path: Path) -> None:
    app = app_with(tmp_path, 9464)
    assert ("GET", "/metrics") not in routes(app)
    assert set(API_PORT_METRICS_ROUTES).isdisjoint(routes(app))
    for service in ServiceName:
        assert public_reason(service, "GET", "/metrics", metrics_port=9464) is None
    for headers in ({}, {"authorization": "Bearer garbage"}):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            response = await client.get("/metrics", headers=headers)
        assert response.status_code == 404, response.text
    # Every other public route is still there and public.
    assert (await get(app, "/health/live")).status_code == 200
    assert (await get(app, "/openapi.json")).status_code == 200
    # The app's registry still counts requests: the runner serves it on the metrics port.
    samples = {
        (s.name, s.labels.get("route"))
        for family in text_string_to_metric_families(_text(app))
        for s in family.samples
    }
    assert ("adx_http_requests_total", "/health/live") in samples


def _text(app: FastAPI) -> str:
    return generate_latest(app.state.metrics.registry).decode()


async def test_the_metrics_server_serves_its_registry_and_stops(tmp_path: Path) -> None:
    app = app_with(tmp_path, 9464)
    await get(app, "/health/live")
    port = free_port()
    stop = serve_metrics("127.0.0.1", port, app.state.metrics.registry)
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        names = {f.name for f in text_string_to_metric_families(text)}
        assert "adx_http_requests" in names  # the counter family (samples end in _total)
    finally:
        stop()
    with pytest.raises(httpx.TransportError):
        async with httpx.AsyncClient(timeout=2) as client:
            await client.get(f"http://127.0.0.1:{port}/metrics")


def test_a_taken_metrics_port_raises(tmp_path: Path) -> None:
    port = free_port()
    stop = serve_metrics("127.0.0.1", port, worker_registry())
    try:
        with pytest.raises(OSError):
            serve_metrics("127.0.0.1", port, worker_registry())
    finally:
        stop()
