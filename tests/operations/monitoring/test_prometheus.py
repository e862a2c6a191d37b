"""A real Prometheus scraping the running stack: every process's series are there, every
dashboard query returns data, every rule evaluates, and a stopped process's alert fires."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

import httpx
import pytest

from services.common.settings import ServiceName
from tests.graphql_client import gql
from tests.operations.monitoring.conftest import CANARY, Monitoring
from tests.operations.monitoring.definitions import PanelQuery, panel_queries, rules
from tests.support import Infra, Stack

#: Series that exist only once something has failed (Temporal reports failure counters from the
#: first failure on): their panels may be empty on a healthy stack, but must still parse.
ONLY_AFTER_A_FAILURE = (
    "temporal_workflow_failed_total",
    "temporal_workflow_task_execution_failed_total",
    "temporal_activity_execution_failed_total",
)
#: The first test also waits for the session's stack and Prometheus to start (minutes on a
#: loaded machine); the service-down test for the rule's minute.
pytestmark = pytest.mark.timeout(480)
WITH_DATABASE = ("auth", "user", "file", "tenant")
WORKERS = ("auth", "user", "file", "workflow", "tenant")


async def query(prometheus: str, expr: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{prometheus}/api/v1/query", params={"query": expr})
    body: dict[str, Any] = response.json()
    assert response.status_code == 200 and body["status"] == "success", (expr, body)
    return body["data"]


async def eventually(prometheus: str, expr: str, timeout: float = 60) -> list[dict[str, Any]]:
    """The query's result once it has one (Prometheus needs a few scrapes for a rate)."""
    deadline = time.monotonic() + timeout
    while True:
        result = (await query(prometheus, expr))["result"]
        if result or time.monotonic() > deadline:
            return result  # type: ignore[no-any-return]
        await asyncio.sleep(1)


async def traffic(stack: Stack, infra: Infra) -> None:
    """What a user does: a sign-up verified by mail (user_registration runs to completion on
    the auth and user workers), a query, a bad query; the probes and a direct call of every
    process."""
    from tests.gateway.test_slice_end_to_end import SIGN_UP, sign_up_input, verify_by_mail

    email = f"mon-{uuid.uuid4().hex[:10]}@example.com"
    started = await gql(stack.graphql, SIGN_UP, {"input": sign_up_input(email)})
    assert "errors" not in started, started
    assert (await verify_by_mail(stack, infra, email)) == {"data": {"verifyEmail": True}}
    await gql(stack.graphql, "query { me { id } }")
    await gql(stack.graphql, "query { nope }")
    async with httpx.AsyncClient(timeout=10) as client:
        for service in stack.ports:
            assert (await client.get(stack.url(service, "/health/ready"))).status_code == 200
            # A direct call of every process (answered 200 or 401: counted under its route).
            assert (await client.get(stack.url(service, "/openapi.json"))).status_code < 500


@pytest.fixture(scope="module")
async def scraped(monitoring: Monitoring, stack: Stack, infra: Infra) -> Monitoring:
    await traffic(stack, infra)
    expected = {s.value for s in stack.ports} | {CANARY}
    deadline = time.monotonic() + 60
    while True:
        up = await query(monitoring.url, 'up{job="adx"} == 1')
        seen = {r["metric"]["service"] for r in up["result"]}
        if seen >= expected or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    assert seen >= expected, f"targets not up: {expected - seen}"
    return monitoring


async def services_with(prometheus: str, expr: str) -> set[str]:
    return {r["metric"].get("service", "?") for r in await eventually(prometheus, expr)}


async def test_every_process_reports_its_series(scraped: Monitoring, stack: Stack) -> None:
    url = scraped.url
    everyone = {s.value for s in stack.ports}
    assert await services_with(url, "adx_http_requests_total") >= everyone
    assert await services_with(url, "adx_http_request_duration_seconds_bucket") >= everyone
    assert await services_with(url, "adx_redis_pool_max") >= everyone
    assert await services_with(url, "adx_disk_free_bytes") >= everyone
    assert await services_with(url, "adx_dependency_up == 1") >= everyone
    assert await services_with(url, "adx_db_pool_size") >= set(WITH_DATABASE)
    assert await services_with(url, "temporal_worker_task_slots_available") >= set(WORKERS)
    assert await services_with(url, "adx_auth_signing_key_age_seconds") == {"auth"}
    gateway_only = (
        'adx_graphql_operations_total{operation="signUp", type="mutation", outcome="ok"}',
        'adx_graphql_operations_total{operation="invalid", outcome="error"}',
        "adx_graphql_operation_duration_seconds_bucket",
        "adx_graphql_document_cache_lookups_total",
        "adx_gateway_relay_followed_runs",
    )
    for expr in gateway_only:
        assert await services_with(url, expr) == {"gateway"}, expr
    # The breakers' own `service` label names the backend (honor_labels keeps it).
    breakers = await services_with(url, 'adx_gateway_circuit_state{instance="*"}')
    assert breakers == set(WORKERS), breakers
    completed = await eventually(
        url, 'temporal_workflow_completed_total{workflow_type="user_registration"}'
    )
    assert completed and completed[0]["metric"]["service"] == "auth", completed
    # Label sets stay bounded: route templates, not paths.
    routes = await query(url, "count by (route) (adx_http_requests_total)")
    raw = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-|/\d+(/|$)")  # a UUID or a number in a path
    assert routes["result"] and not [
        r for r in routes["result"] if raw.search(r["metric"]["route"])
    ], routes


@pytest.mark.parametrize("panel", panel_queries(), ids=lambda p: f"{p.dashboard}:{p.panel}")
async def test_every_dashboard_query_returns_data(scraped: Monitoring, panel: PanelQuery) -> None:
    expr = panel.resolved()
    if any(name in expr for name in ONLY_AFTER_A_FAILURE):
        await query(scraped.url, expr)  # parses and evaluates
        return
    result = await eventually(scraped.url, expr)
    assert result, f"{panel.dashboard} / {panel.panel}: no data for {expr}"


async def test_every_rule_evaluates_without_error(scraped: Monitoring) -> None:
    for rule in rules():
        await query(scraped.url, rule.expr)  # the HTTP API parses and evaluates it
    deadline = time.monotonic() + 30
    while True:
        async with httpx.AsyncClient(timeout=10) as client:
            groups = (await client.get(f"{scraped.url}/api/v1/rules")).json()["data"]["groups"]
        loaded = {r["name"]: r for g in groups for r in g["rules"]}
        if all(r.get("lastEvaluation", "").startswith("20") for r in loaded.values()):
            break
        assert time.monotonic() < deadline, "rules not evaluated"
        await asyncio.sleep(1)
    assert set(loaded) == {r.name for r in rules()}
    assert {name: r["health"] for name, r in loaded.items()} == dict.fromkeys(loaded, "ok")
    # The recording rules the SLO alerts read have data for the stack's traffic.
    assert await eventually(scraped.url, "adx:http_error_ratio:rate5m")
    assert await eventually(scraped.url, "adx:http_slow_ratio:rate5m")
    firing = await query(scraped.url, 'ALERTS{alertstate="firing", alertname!="AdxServiceDown"}')
    assert firing["result"] == [], "a healthy stack fires alerts"


async def alert_state(prometheus: str, service: str) -> str | None:
    async with httpx.AsyncClient(timeout=10) as client:
        alerts = (await client.get(f"{prometheus}/api/v1/alerts")).json()["data"]["alerts"]
    for alert in alerts:
        labels = alert["labels"]
        if labels["alertname"] == "AdxServiceDown" and labels.get("service") == service:
            return str(alert["state"])
    return None


async def test_a_stopped_process_fires_service_down(scraped: Monitoring) -> None:
    assert await alert_state(scraped.url, CANARY) is None
    await asyncio.to_thread(scraped.canary.stop)

    states: list[str | None] = []
    deadline = time.monotonic() + 150  # the rule's `for: 1m`, plus scrapes and evaluations
    while time.monotonic() < deadline:
        state = await alert_state(scraped.url, CANARY)
        if not states or states[-1] != state:
            states.append(state)
        if state == "firing":
            break
        await asyncio.sleep(1)
    assert states[-1] == "firing", f"AdxServiceDown for the stopped process went {states}"
    assert "pending" in states  # waited its minute first
    for service in (ServiceName.gateway.value, ServiceName.user.value):
        assert await alert_state(scraped.url, service) is None
