"""Routing and resilience on real processes (issue 12): a gateway of its own beside the session
stack, over two user-service instances of its own.

- killing one instance keeps every query answering (reads move to the other one);
- stopping the user service entirely opens its breaker (on ``/metrics``): the user field fails
  fast with ``SERVICE_UNAVAILABLE`` while ``me`` (auth) and ``tenants`` (tenant service) still
  answer in the same query; the breaker closes again once the service is back;
- a mutation reaching an instance that answers 502 is not sent again; a read is, to another.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.settings import ServiceName
from services.devstack.ports import free_port
from services.devstack.processes import ManagedProcess
from tests.auth.users import AuthUser
from tests.gateway.routing.real_stack import (
    CountingBackend,
    gateway_process,
    metric,
    start_instance,
)
from tests.support import Stack

pytestmark = pytest.mark.timeout(300)

QUERY = "query($id: ID!) { me { userId } user(id: $id) { id } tenants { id } }"
OPEN_SECONDS = 1.0


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("routing-logs")


async def sign_in(stack: Stack, user: AuthUser) -> str:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            stack.url(ServiceName.auth, "/auth/login"),
            json={"email": user.email, "password": user.password},
        )
    assert response.status_code == 200, response.text
    return str(response.json()["tokens"]["access_token"])


async def ask(
    base: str, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{base}/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def codes(answer: dict[str, Any]) -> dict[str, str]:
    """``extensions.code`` of each error, by the field it belongs to."""
    return {
        str(e["path"][0]): e.get("extensions", {}).get("code")
        for e in answer.get("errors", [])
        if e.get("path")
    }


@pytest.fixture
def user_instances(stack: Stack, log_dir: Path) -> Iterator[list[tuple[int, ManagedProcess]]]:
    ports = [free_port(), free_port()]
    running = [
        (port, start_instance(stack, ServiceName.user, port, log_dir, f"user-{n}"))
        for n, port in enumerate(ports)
    ]
    yield running
    for _, proc in running:
        proc.stop()


async def test_one_instance_killed_every_query_answers_all_stopped_the_breaker_opens_and_closes(
    stack: Stack,
    log_dir: Path,
    user: AuthUser,
    user_instances: list[tuple[int, ManagedProcess]],
) -> None:
    (port_a, proc_a), (port_b, proc_b) = user_instances
    env = {
        "ADX_USER_SERVICE_URL": f"http://127.0.0.1:{port_a},http://127.0.0.1:{port_b}",
        "ADX_AUTH_SERVICE_URL": stack.url(ServiceName.auth),
        "ADX_TENANT_SERVICE_URL": stack.url(ServiceName.tenant),
        "ADX_INSTANCE_CHECK_SECONDS": "0.5",
        "ADX_BREAKER_FAILURE_THRESHOLD": "3",
        "ADX_BREAKER_OPEN_SECONDS": str(OPEN_SECONDS),
    }
    token = await sign_in(stack, user)
    with gateway_process(stack, log_dir, "gateway-routing", env) as base:
        me = await ask(base, "{ me { userId } }", token=token)
        variables = {"id": me["data"]["me"]["userId"]}
        for _ in range(6):
            answer = await ask(base, QUERY, variables, token)
            assert "errors" not in answer, answer
        a, b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
        assert metric(base, "adx_gateway_instance_ready", service="user", instance=a) == 1

        # one instance killed: every query keeps answering, from the other one
        proc_a.send_signal(signal.SIGKILL)
        proc_a.wait(10)
        for _ in range(20):
            answer = await ask(base, QUERY, variables, token)
            assert "errors" not in answer, answer
        deadline = time.monotonic() + 10
        while metric(base, "adx_gateway_instance_ready", service="user", instance=a) != 0:
            assert time.monotonic() < deadline, "the killed instance was never taken out"
            time.sleep(0.2)
        assert metric(base, "adx_gateway_instance_ready", service="user", instance=b) == 1
        assert metric(base, "adx_gateway_circuit_state", service="user", instance="*") == 0

        # the whole service stopped: its fields fail, the others answer; the breaker opens
        proc_b.stop()
        for _ in range(4):
            answer = await ask(base, QUERY, variables, token)
            assert codes(answer) == {"user": "SERVICE_UNAVAILABLE"}, answer
            assert answer["data"]["me"] == {"userId": variables["id"]}
            assert answer["data"]["tenants"] == []
            assert answer["data"]["user"] is None
        assert metric(base, "adx_gateway_circuit_state", service="user", instance="*") == 2
        started = time.monotonic()
        answer = await ask(base, QUERY, variables, token)
        assert time.monotonic() - started < 0.5  # the open circuit answers at once
        assert codes(answer) == {"user": "SERVICE_UNAVAILABLE"}
        assert answer["data"]["me"] and answer["data"]["tenants"] == []
        error = answer["errors"][0]
        assert error["extensions"]["retryAfter"] >= 1
        assert "the user service is unavailable" in error["message"]

        # the service back (both instances, on their addresses): the breaker closes again
        restarted = [
            start_instance(stack, ServiceName.user, port, log_dir, f"user-{n}-again")
            for n, port in enumerate((port_a, port_b))
        ]
        try:
            deadline = time.monotonic() + 20
            while "errors" in (answer := await ask(base, QUERY, variables, token)):
                assert time.monotonic() < deadline, answer
                time.sleep(0.2)
            assert metric(base, "adx_gateway_circuit_state", service="user", instance="*") == 0
            for instance in (a, b):
                deadline = time.monotonic() + 10
                while (
                    metric(base, "adx_gateway_instance_ready", service="user", instance=instance)
                    != 1
                ):
                    assert time.monotonic() < deadline, f"{instance} never came back"
                    time.sleep(0.2)
            for _ in range(6):
                answer = await ask(base, QUERY, variables, token)
                assert "errors" not in answer, answer
        finally:
            for proc in restarted:
                proc.stop()
    log = (log_dir / "gateway-routing.log").read_text()
    for event in ("service_instance_not_ready", "circuit_breaker_opened", "circuit_breaker_closed"):
        assert event in log, event


async def test_a_mutation_is_never_retried_and_a_read_is_retried_on_another_instance(
    stack: Stack, log_dir: Path
) -> None:
    """Auth instances: a backend answering 502 (counting what it gets) and the real service.
    Active checks are off and the threshold is high, so the failing one stays in turn."""
    failing = CountingBackend(502)
    env = {
        "ADX_AUTH_SERVICE_URL": f"{failing.url},{stack.url(ServiceName.auth)}",
        "ADX_INSTANCE_CHECK_SECONDS": "0",
        "ADX_BREAKER_FAILURE_THRESHOLD": "1000",
    }
    try:
        with gateway_process(stack, log_dir, "gateway-retries", env) as base:
            for _ in range(8):  # reads: every one answers, the 502s are retried on the other
                answer = await ask(base, "{ ssoProviders { name } }")
                assert "errors" not in answer, answer
            reads = failing.count("GET", "/auth/sso/providers")
            assert reads >= 1
            retried = metric(base, "adx_gateway_retries_total", service="auth")
            assert retried is not None and retried >= reads

            outcomes = []
            for _ in range(8):  # writes: one attempt each, wherever it went
                answer = await ask(
                    base, 'mutation { refreshSession(refreshToken: "nope") { accessToken } }'
                )
                outcomes.append(codes(answer)["refreshSession"])
            writes = failing.count("POST", "/auth/refresh")
            assert writes >= 1, outcomes
            assert outcomes.count("SERVICE_UNAVAILABLE") == writes, outcomes
            assert len(outcomes) - writes >= 1  # the others reached the real auth service
            assert metric(base, "adx_gateway_retries_total", service="auth") == retried
    finally:
        failing.close()
