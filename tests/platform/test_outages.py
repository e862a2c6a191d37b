"""Outages of a gateway's dependencies (issue 6, finding 8): a stalled Redis and an unreachable
Temporal answer ``SERVICE_UNAVAILABLE`` with a generic message within the request deadline, and
everything works again as soon as the dependency is back.

One auth process and one gateway process of their own share a private Redis (frozen with
SIGSTOP: a stall, not a refusal); the gateway reaches Temporal through a TCP proxy the test can
cut, and so does the auth service (its request paths must answer 503 promptly too). Both use the
test run's PostgreSQL directly."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets

from services.common.settings import ServiceName
from services.devstack.ports import free_port, wait_for_http
from services.devstack.processes import ManagedProcess
from services.devstack.redis import start_redis
from tests.auth.users import AuthUser
from tests.platform.tcp_proxy import TcpProxy
from tests.support import Infra, start_service

#: Generous bounds (a loaded CI machine): the point is "seconds, not tens of seconds".
ANSWER_WITHIN = 8.0
RECOVER_WITHIN = 5.0
INTERNALS = ("Timeout reading", "127.0.0.1", "tcp connect", "Error 111", "Traceback", "redis")

LOGIN = (
    "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) "
    "{ tokens { accessToken } } }"
)
ME = "{ me { userId } }"
SIGN_UP = (
    "mutation($e: String!) { signUp(input: {email: $e, password: "
    '"a long and unusual passphrase 7", displayName: "Outage Test"}) { id } }'
)


@dataclass
class Pair:
    """The gateway under test, its auth service, and the dependencies the test can break."""

    gateway: str
    auth: str
    redis: ManagedProcess
    temporal: TcpProxy

    @contextmanager
    def redis_stalled(self) -> Iterator[None]:
        assert self.redis.pgid is not None
        os.killpg(self.redis.pgid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(self.redis.pgid, signal.SIGCONT)

    @contextmanager
    def temporal_down(self) -> Iterator[None]:
        self.temporal.refuse()
        try:
            yield
        finally:
            self.temporal.restore()


@pytest.fixture(scope="module")
def pair(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("outages")
    redis_port, auth_port, gateway_port = free_port(), free_port(), free_port()
    redis = start_redis(root, redis_port, echo=False, die_with_parent=True)
    temporal_host, temporal_port = infra.env["ADX_TEMPORAL_ADDRESS"].rsplit(":", 1)
    proxy = TcpProxy(temporal_host, int(temporal_port)).start()
    env = {
        **infra.env,
        "ADX_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "ADX_AUTH_PORT": str(auth_port),
        "ADX_GATEWAY_PORT": str(gateway_port),
        "ADX_TEMPORAL_ADDRESS": proxy.address,
    }
    processes: list[ManagedProcess] = []
    try:
        processes.append(
            start_service(ServiceName.auth, env, root, mode="http", name="auth-outages")
        )
        processes.append(
            start_service(ServiceName.gateway, env, root, mode="http", name="gw-outages")
        )
        for port, process in zip((auth_port, gateway_port), processes, strict=True):
            wait_for_http(f"http://127.0.0.1:{port}/health/ready", timeout=90, process=process)
        yield Pair(
            f"http://127.0.0.1:{gateway_port}/graphql",
            f"http://127.0.0.1:{auth_port}",
            redis,
            proxy,
        )
    finally:
        for process in processes:
            process.stop()
        proxy.refuse()
        redis.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield http


async def gql(
    client: httpx.AsyncClient,
    url: str,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> tuple[dict[str, Any], float]:
    """The answer and how long it took."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    started = time.monotonic()
    response = await client.post(
        url, json={"query": query, "variables": variables or {}}, headers=headers
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    return response.json(), elapsed


def assert_unavailable(body: dict[str, Any], elapsed: float) -> None:
    errors = body.get("errors") or []
    assert errors, body
    assert errors[0]["extensions"]["code"] == "SERVICE_UNAVAILABLE", body
    assert isinstance(errors[0]["extensions"].get("retryAfter"), int), body
    text = str(body)
    assert not [marker for marker in INTERNALS if marker in text], body
    assert elapsed < ANSWER_WITHIN, f"answered after {elapsed:.1f} s"


async def first_ws_message(url: str, query: str) -> list[dict[str, Any]]:
    """The errors of the first answer to ``query`` over graphql-transport-ws."""
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        message = json.loads(await asyncio.wait_for(ws.recv(), 30))
    payload = message["payload"]
    return payload if isinstance(payload, list) else payload.get("errors", [])  # type: ignore[no-any-return]


async def login(client: httpx.AsyncClient, pair: Pair, user: AuthUser) -> dict[str, Any]:
    body, _ = await gql(client, pair.gateway, LOGIN, {"e": user.email, "p": user.password})
    return body


async def test_a_stalled_redis_is_service_unavailable_and_logins_work_as_soon_as_it_is_back(
    pair: Pair, user: AuthUser, client: httpx.AsyncClient
) -> None:
    before = await login(client, pair, user)
    token = before["data"]["login"]["tokens"]["accessToken"]

    with pair.redis_stalled():
        me, me_elapsed = await gql(client, pair.gateway, ME, token=token)
        # More failed logins than the gateway's circuit breaker allows before it opens: the auth
        # service answers each with a quick 503 of its own, which must not open the circuit.
        stalled_logins = []
        for _ in range(6):
            started = time.monotonic()
            stalled_logins.append((await login(client, pair, user), time.monotonic() - started))

    assert_unavailable(me, me_elapsed)
    for body, elapsed in stalled_logins:
        assert_unavailable(body, elapsed)

    # Redis answers again: the very next login works (a short poll only absorbs scheduling).
    deadline = time.monotonic() + RECOVER_WITHIN
    attempts = 0
    while True:
        attempts += 1
        after = await login(client, pair, user)
        if not after.get("errors") or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert not after.get("errors"), (
        f"still failing {RECOVER_WITHIN} s after Redis came back: {after}"
    )
    assert attempts <= 3, attempts
    me_after, _ = await gql(client, pair.gateway, ME, token=token)
    assert me_after["data"]["me"]["userId"] == str(user.id)


async def test_an_unreachable_temporal_is_service_unavailable_fast_and_sign_up_works_once_back(
    pair: Pair, client: httpx.AsyncClient
) -> None:
    with pair.temporal_down():
        body, elapsed = await gql(
            client, pair.gateway, SIGN_UP, {"e": f"down-{uuid.uuid4().hex[:8]}@example.com"}
        )
        # A query path too (describe + progress query): an unknown run is still "unavailable",
        # not "not found", while Temporal cannot be asked.
        run, run_elapsed = await gql(
            client, pair.gateway, '{ workflowRun(id: "nope") { id status } }'
        )

        started = time.monotonic()
        progress = await first_ws_message(
            pair.gateway.replace("http://", "ws://"),
            'subscription { workflowProgress(id: "nope", accessToken: "x") { id } }',
        )
        progress_elapsed = time.monotonic() - started

    assert_unavailable(body, elapsed)
    assert_unavailable(run, run_elapsed)
    assert_unavailable({"errors": progress}, progress_elapsed)  # over graphql-transport-ws too

    deadline = time.monotonic() + RECOVER_WITHIN + 5  # gRPC reconnects with its own back-off
    while True:
        after, _ = await gql(
            client, pair.gateway, SIGN_UP, {"e": f"back-{uuid.uuid4().hex[:8]}@example.com"}
        )
        if not after.get("errors") or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    assert not after.get("errors"), after
    assert after["data"]["signUp"]["id"]


async def test_an_unreachable_temporal_is_a_prompt_503_from_the_auth_api(
    pair: Pair, client: httpx.AsyncClient
) -> None:
    """The auth service's own request paths (here ``POST /auth/register``) are bounded by
    ``ADX_TEMPORAL_RPC_DEADLINE_SECONDS`` like the gateway's: a problem+json 503, no internals."""
    body = {
        "email": f"api-down-{uuid.uuid4().hex[:8]}@example.com",
        "password": "a long and unusual passphrase 7",
        "display_name": "Outage Test",
    }
    with pair.temporal_down():
        started = time.monotonic()
        response = await client.post(f"{pair.auth}/auth/register", json=body)
        elapsed = time.monotonic() - started

    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) >= 1
    assert not [marker for marker in INTERNALS if marker in response.text], response.text
    assert elapsed < ANSWER_WITHIN, f"answered after {elapsed:.1f} s"


async def test_persisted_queries_over_a_stalled_redis_run_when_sent_whole(
    pair: Pair, client: httpx.AsyncClient
) -> None:
    """APQ (gateway/apq.py) with Redis frozen: a query sent with its hash is still executed
    (storing it is best effort; it was a 503), a hash alone cannot be looked up: a prompt 503
    problem+json, never a 500."""
    query = "{ __typename }"
    digest = hashlib.sha256(query.encode()).hexdigest()
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}

    with pair.redis_stalled():
        started = time.monotonic()
        full = await client.post(pair.gateway, json={"query": query, "extensions": persisted})
        full_elapsed = time.monotonic() - started
        started = time.monotonic()
        by_hash = await client.post(pair.gateway, json={"extensions": persisted})
        hash_elapsed = time.monotonic() - started

    assert full.status_code == 200, full.text
    assert full.json() == {"data": {"__typename": "Query"}}, full.text
    assert full_elapsed < ANSWER_WITHIN, f"answered after {full_elapsed:.1f} s"
    assert by_hash.status_code == 503, by_hash.text
    assert by_hash.headers["content-type"].startswith("application/problem+json")
    assert int(by_hash.headers["retry-after"]) >= 1
    assert hash_elapsed < ANSWER_WITHIN, f"answered after {hash_elapsed:.1f} s"
