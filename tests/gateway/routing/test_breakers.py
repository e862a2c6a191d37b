"""The gateway's calls to a service, in process (httpx mock transports for the instances): the
per-service and per-instance breakers (purgatory), balancing, retries of reads only and within
a budget, the per-call timeout and the request deadline, DNS names, the start-up check of
``ADX_<SERVICE>_SERVICE_URL`` lists and the series on ``/metrics``."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from gateway import instances
from gateway.breakers import CLOSED, HALF_OPEN, OPEN, Breakers
from gateway.service_clients import (
    RoutingMetrics,
    ServiceClient,
    ServiceClients,
    ServiceUnavailable,
    deadline_in,
)
from services.common.settings import ServiceName, Settings, SettingsError, load_settings

A, B = "http://10.0.0.1:8081", "http://10.0.0.2:8081"
#: An answer plan: status per call, ``None`` for a refused connection.
Plan = Callable[[httpx.Request], int | None]


def client_of(
    plans: dict[str, Plan],
    *,
    threshold: int = 5,
    open_seconds: float = 2.0,
    retry_budget_percent: int = 20,
    call_timeout: float = 5.0,
) -> tuple[ServiceClient, Counter[str]]:
    """An auth client over the instances of ``plans`` (base URL -> answer plan) and a count of
    the requests each instance received (a refused connection is no request)."""
    received: Counter[str] = Counter()

    async def answer(request: httpx.Request) -> httpx.Response:
        base = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        status = plans[base](request)
        if status is None:
            raise httpx.ConnectError("All connection attempts failed", request=request)
        received[base] += 1
        if status == 0:  # a stalled instance
            await asyncio.sleep(30)
        return httpx.Response(status, json={"detail": "x"})

    client = ServiceClient(
        ServiceName.auth,
        list(plans),
        Breakers(threshold, open_seconds),
        retry_budget_percent=retry_budget_percent,
        call_timeout=call_timeout,
    )
    client.http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    return client, received


def answers(*statuses: int | None) -> Plan:
    it = iter(statuses)
    return lambda _: next(it)


def always(status: int | None) -> Plan:
    return lambda _: status


# --- the service's breaker opens on an unreachable service only ----------------------------------


async def test_503s_and_500s_from_a_running_service_do_not_open_the_circuit() -> None:
    """The auth service answers 503 while *its* Redis is down (or 500 for one bad input): a
    login right after must reach it, not wait out a cooldown the service never asked for."""
    client, _ = client_of({A: answers(*[503] * 6, *[500] * 6, 200)})
    for _ in range(12):
        with pytest.raises(ServiceUnavailable):
            await client.request("POST", "/auth/login")

    assert (await client.request("POST", "/auth/login")).status_code == 200
    assert client.breaker.state == CLOSED


async def test_an_unreachable_service_opens_the_circuit_briefly() -> None:
    client, received = client_of({A: answers(*[None] * 5, 502, 200)}, threshold=5, open_seconds=0.3)
    for _ in range(5):
        with pytest.raises(ServiceUnavailable):
            await client.request("GET", "/x")
    assert client.breaker.state == OPEN

    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match="circuit open"):
        await client.request("GET", "/x")  # fails fast, the service is not even asked
    assert time.monotonic() - started < 0.05
    await asyncio.sleep(0.35)  # the open time passed
    with pytest.raises(ServiceUnavailable, match="HTTP 502"):
        await client.request("GET", "/x")  # the trial call: 502, the circuit opens again
    assert client.breaker.state == OPEN
    await asyncio.sleep(0.35)
    assert (await client.request("GET", "/x")).status_code == 200
    assert client.breaker.state == CLOSED
    assert received[A] == 2  # the 502 and the 200; the refused connections were no requests


async def test_the_breaker_logs_its_changes(capsys: pytest.CaptureFixture[str]) -> None:
    client, _ = client_of({A: answers(None, 200)}, threshold=1, open_seconds=0.05)
    with pytest.raises(ServiceUnavailable):
        await client.request("GET", "/x")
    await asyncio.sleep(0.1)
    await client.request("GET", "/x")
    out = capsys.readouterr()
    logged = out.out + out.err
    for event in ("circuit_breaker_opened", "circuit_breaker_half_open", "circuit_breaker_closed"):
        assert event in logged


# --- instances: balance, take out, take back ------------------------------------------------------


async def test_calls_are_spread_over_the_instances() -> None:
    client, received = client_of({A: always(200), B: always(200)})
    for _ in range(10):
        await client.request("GET", "/x")
    assert received == {A: 5, B: 5}


async def test_the_instance_with_fewer_calls_in_flight_is_picked() -> None:
    client, _ = client_of({A: always(200), B: always(200)})
    first, second = client.pool.instances
    first.in_flight = 3
    assert {client.pool.pick() for _ in range(4)} == {second}


async def test_a_read_that_cannot_reach_one_instance_is_answered_by_another() -> None:
    client, received = client_of({A: always(None), B: always(200)}, threshold=3)
    for _ in range(10):
        assert (await client.request("GET", "/users")).status_code == 200
    # A's own breaker opened after 3 refused connections: it is no longer tried at all
    assert client.pool.instances[0].breaker.state == OPEN
    assert client.breaker.state == CLOSED
    assert received == {B: 10}
    assert 1 <= client.retries <= 3


async def test_a_write_is_never_retried() -> None:
    """A POST that fails on one instance fails: it is not sent to another one, even when the
    failure was a timeout after which the first instance may have done the write."""
    client, received = client_of({A: always(0), B: always(0)}, call_timeout=0.2)
    with pytest.raises(ServiceUnavailable, match="TimeoutError"):
        await client.request("POST", "/auth/logout")
    assert sum(received.values()) == 1
    assert client.retries == 0

    refused, _ = client_of({A: always(None), B: always(201)})
    outcomes: list[int | str] = []
    for _ in range(4):
        try:
            outcomes.append((await refused.request("PATCH", "/x")).status_code)
        except ServiceUnavailable:
            outcomes.append("unavailable")
    assert outcomes.count("unavailable") == 2 and outcomes.count(201) == 2  # taking turns
    assert refused.retries == 0


async def test_retries_stay_within_the_budget() -> None:
    client, received = client_of(
        {A: always(502), B: always(502), "http://10.0.0.3:8081": always(502)},
        threshold=1000,
        retry_budget_percent=20,
    )
    for _ in range(20):
        with pytest.raises(ServiceUnavailable):
            await client.request("GET", "/x")
    # 20 calls: 10 from the reserve, then 20 % of the calls (the reserve never exceeds 10)
    assert 10 <= client.retries <= 14
    assert client.retries_refused > 0
    assert sum(received.values()) == 20 + client.retries

    none, received = client_of({A: always(502), B: always(200)}, retry_budget_percent=0)
    outcomes: list[int | str] = []
    for _ in range(2):
        try:
            outcomes.append((await none.request("GET", "/x")).status_code)
        except ServiceUnavailable:
            outcomes.append("unavailable")
    assert sorted(map(str, outcomes)) == ["200", "unavailable"]
    assert none.retries == 0


async def test_a_read_is_tried_at_most_three_times() -> None:
    plans = {f"http://10.0.0.{n}:8081": always(502) for n in range(1, 7)}
    client, received = client_of(plans, threshold=1000)
    with pytest.raises(ServiceUnavailable):
        await client.request("GET", "/x")
    assert sum(received.values()) == 3
    assert len(received) == 3  # each on an instance not tried yet


async def test_an_instance_found_not_ready_gets_no_calls_and_comes_back() -> None:
    client, received = client_of({A: always(200), B: always(200)})
    first, _ = client.pool.instances
    first.ready = False
    for _ in range(6):
        await client.request("GET", "/x")
    assert received == {B: 6}
    first.ready = True
    for _ in range(6):
        await client.request("GET", "/x")
    assert received[A] == 3


async def test_when_no_instance_is_ready_they_are_all_still_used() -> None:
    """Readiness also fails when, say, Temporal is down; such an instance may still answer."""
    client, received = client_of({A: always(200), B: always(200)})
    for instance in client.pool.instances:
        instance.ready = False
    for _ in range(4):
        await client.request("GET", "/x")
    assert received == {A: 2, B: 2}


async def test_active_checks_take_instances_out_and_back_in() -> None:
    ready = {A: 200, B: 503}

    def health(request: httpx.Request) -> httpx.Response:
        base = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        assert request.url.path == "/health/ready"
        return httpx.Response(ready[base])

    client, _ = client_of({A: always(200), B: always(200)})
    async with httpx.AsyncClient(transport=httpx.MockTransport(health)) as http:
        await client.pool.check(http)
        assert [i.ready for i in client.pool.instances] == [True, False]
        ready[B] = 200
        await client.pool.check(http)
        assert [i.ready for i in client.pool.instances] == [True, True]


# --- timeouts and the request deadline ----------------------------------------------------------


async def test_a_stalled_instance_is_given_up_after_the_call_timeout() -> None:
    client, _ = client_of({A: always(0), B: always(200)}, call_timeout=0.2)
    started = time.monotonic()
    for _ in range(2):  # one of them meets A first, gives up on it and asks B
        assert (await client.request("GET", "/x")).status_code == 200
    assert time.monotonic() - started < 1.0


async def test_calls_never_outlive_the_request_deadline() -> None:
    client, _ = client_of({A: always(0), B: always(0)}, call_timeout=5.0)
    started = time.monotonic()
    with deadline_in(0.3), pytest.raises(ServiceUnavailable):
        await client.request("GET", "/x")  # both instances stall: retried within 0.3 s only
    assert time.monotonic() - started < 0.6
    with deadline_in(0), pytest.raises(ServiceUnavailable, match="deadline"):
        await client.request("GET", "/x")
    assert client.breaker.state == CLOSED  # a spent deadline is no failure of the service


# --- instances from settings and DNS ------------------------------------------------------------


async def test_a_name_resolving_to_several_addresses_is_several_instances(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolved = {"users.internal": ["10.1.0.1", "10.1.0.2"]}

    async def fake(host: str, port: int) -> list[str]:
        return resolved[host]

    monkeypatch.setattr(instances, "addresses_of", fake)
    seen: list[tuple[str, str | None]] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("host")))
        return httpx.Response(200, json={})

    client = ServiceClient(ServiceName.user, "http://users.internal:8082")
    client.http = httpx.AsyncClient(transport=httpx.MockTransport(record))
    await client.pool.resolve()
    assert [i.label for i in client.pool.instances] == [
        "http://users.internal:8082 (10.1.0.1)",
        "http://users.internal:8082 (10.1.0.2)",
    ]
    await client.request("GET", "/users")
    await client.request("GET", "/users")
    assert sorted(seen) == [
        ("http://10.1.0.1:8082/users", "users.internal:8082"),
        ("http://10.1.0.2:8082/users", "users.internal:8082"),
    ]
    kept = client.pool.instances[1]
    resolved["users.internal"] = ["10.1.0.2", "10.1.0.3"]  # one pod gone, one new
    await client.pool.resolve()
    assert [i.address for i in client.pool.instances] == ["10.1.0.2", "10.1.0.3"]
    assert client.pool.instances[0] is kept  # its breaker and readiness are kept


def test_a_list_of_urls_is_a_list_of_instances() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, user_service_url="http://127.0.0.1:9001/, http://[::1]:9002"
    )
    assert settings.service_urls(ServiceName.user) == ("http://127.0.0.1:9001", "http://[::1]:9002")
    clients = ServiceClients(settings)
    assert [i.base_url for i in clients.user.pool.instances] == [
        "http://127.0.0.1:9001",
        "http://[::1]:9002",
    ]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("http://127.0.0.1:9001,,http://127.0.0.1:9002", "entry 2 of 3 is empty"),
        ("http://127.0.0.1:9001,", "entry 2 of 2 is empty"),
        ("http://a:1,127.0.0.1:9002", "entry 2 ('127.0.0.1:9002') is not an http(s) base URL"),
        ("http://a:1 http://b:2", "entry 1 ('http://a:1 http://b:2') is not an http(s) base"),
        ("http://a:99999", "is not an http(s) base URL"),
        ("http://a:1,http://a:1/", "entry 2 ('http://a:1/') is listed twice"),
    ],
)
def test_a_malformed_url_list_stops_the_process_with_a_clear_message(
    value: str, says: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ADX_USER_SERVICE_URL", value)
    with pytest.raises(SettingsError) as stop:
        load_settings()
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "ADX_USER_SERVICE_URL" in err
    assert says in err


# --- /metrics ------------------------------------------------------------------------------------


async def test_breaker_states_and_readiness_are_exported() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        user_service_url=f"{A},{B}",
        breaker_failure_threshold=1,
        breaker_open_seconds=60,
    )
    clients = ServiceClients(settings)
    registry = CollectorRegistry()
    registry.register(RoutingMetrics(clients))
    first, second = clients.user.pool.instances
    second.ready = False
    with pytest.raises(httpx.ConnectError):
        async with first.breaker:
            raise httpx.ConnectError("refused")
    text = generate_latest(registry).decode()
    assert f'adx_gateway_circuit_state{{instance="{A}",service="user"}} 2.0' in text
    assert f'adx_gateway_circuit_state{{instance="{B}",service="user"}} 0.0' in text
    assert 'adx_gateway_circuit_state{instance="*",service="user"} 0.0' in text
    assert f'adx_gateway_instance_ready{{instance="{B}",service="user"}} 0.0' in text
    assert 'adx_gateway_retries_total{service="auth"} 0.0' in text
    assert HALF_OPEN == "half-opened"
    await clients.aclose()
