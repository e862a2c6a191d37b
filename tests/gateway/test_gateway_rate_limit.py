"""Gateway rate limiting against real gateway processes with tiny limits, next to the test stack
(its auth service issues the tokens): per client address, per user, per tenant, WebSocket
subscriptions, window expiry, and Redis unavailable (fail open)."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from services.auth.runtime import runtime_for
from services.common.resources import Resources
from services.common.settings import ServiceName
from services.devstack.ports import free_port, wait_for_http
from tests.auth.users import AuthUser, create_user
from tests.support import Stack, start_service

ANONYMOUS, PER_USER, PER_TENANT, MUTATION_COST = 3, 3, 5, 2
TYPENAME = "{ __typename }"
#: Refused by the resolver (not signed in) but counted first, as a mutation.
LOGOUT = "mutation { logout }"


@contextmanager
def gateway_process(stack: Stack, log_dir: Path, name: str, **settings: object) -> Iterator[str]:
    """A gateway of its own (its own settings) beside the stack; yields its base URL."""
    port = free_port()
    env = {
        **stack.env,
        "ADX_GATEWAY_PORT": str(port),
        **{f"ADX_{key.upper()}": str(value) for key, value in settings.items()},
    }
    proc = start_service(ServiceName.gateway, env, log_dir, mode="http", name=name)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health/live", timeout=60, process=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rate-limit-logs")


@pytest.fixture(scope="module")
def gateway(stack: Stack, log_dir: Path) -> Iterator[str]:
    with gateway_process(
        stack,
        log_dir,
        "gateway-limited",
        rate_limit_anonymous_requests=ANONYMOUS,
        rate_limit_user_requests=PER_USER,
        rate_limit_tenant_requests=PER_TENANT,
        rate_limit_mutation_cost=MUTATION_COST,
        rate_limit_window_seconds=120,
    ) as url:
        yield url


def new_ip() -> str:
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


async def call(
    base: str,
    query: str = TYPENAME,
    *,
    ip: str | None = None,
    token: str | None = None,
    peer: str = "127.0.0.1",
) -> httpx.Response:
    """POST /graphql from local address ``peer`` (127.0.0.1 is a trusted proxy, others are not),
    claiming ``ip`` in X-Forwarded-For."""
    headers = {}
    if ip:
        headers["x-forwarded-for"] = ip
    if token:
        headers["authorization"] = f"Bearer {token}"
    transport = httpx.AsyncHTTPTransport(local_address=peer)
    async with httpx.AsyncClient(transport=transport, timeout=30) as client:
        return await client.post(f"{base}/graphql", json={"query": query}, headers=headers)


async def calls(base: str, count: int, query: str = TYPENAME, **kw: Any) -> list[int]:
    return [(await call(base, query, **kw)).status_code for _ in range(count)]


def assert_refused(response: httpx.Response, limit: str) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["limit"] == limit
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    assert error["extensions"]["retryAfter"] == retry_after
    assert f"Too many requests for this {limit}" in error["message"]
    assert f"Retry in {retry_after} s" in error["message"]
    return error  # type: ignore[no-any-return]


async def access_token(stack: Stack, user: AuthUser, tenant: uuid.UUID | None = None) -> str:
    body: dict[str, Any] = {"email": user.email, "password": user.password}
    if tenant:
        body["tenant_id"] = str(tenant)
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(stack.url(ServiceName.auth, "/auth/login"), json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["tokens"]["access_token"])


async def test_anonymous_client_over_its_limit_gets_429_and_others_are_not_affected(
    gateway: str,
) -> None:
    ip, other = new_ip(), new_ip()

    allowed = await calls(gateway, ANONYMOUS, ip=ip)
    refused = await call(gateway, ip=ip)
    other_client = await call(gateway, ip=other)

    assert allowed == [200] * ANONYMOUS
    assert_refused(refused, "client")
    assert other_client.status_code == 200
    assert other_client.json() == {"data": {"__typename": "Query"}}


async def test_forwarded_for_from_an_untrusted_peer_does_not_reset_the_limit(
    gateway: str,
) -> None:
    peer = "127.0.0.2"  # not in ADX_TRUSTED_PROXIES: its X-Forwarded-For is client-supplied

    allowed = [(await call(gateway, ip=new_ip(), peer=peer)).status_code for _ in range(ANONYMOUS)]
    spoofed = await call(gateway, ip=new_ip(), peer=peer)
    other_peer = await call(gateway, ip=new_ip(), peer="127.0.0.3")

    assert allowed == [200] * ANONYMOUS
    assert_refused(spoofed, "client")
    assert other_peer.status_code == 200


async def test_graphiql_page_health_and_metrics_stay_reachable_when_limited(
    gateway: str,
) -> None:
    peer = "127.0.0.4"
    await calls(gateway, ANONYMOUS, peer=peer)
    refused = await call(gateway, peer=peer)

    transport = httpx.AsyncHTTPTransport(local_address=peer)
    async with httpx.AsyncClient(transport=transport, base_url=gateway) as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        live = await client.get("/health/live")
        metrics = await client.get("/metrics")
        query_via_get = await client.get("/graphql", params={"query": TYPENAME})

    assert_refused(refused, "client")
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    assert live.status_code == 200
    assert metrics.status_code == 200 and 'status="429"' in metrics.text
    assert_refused(query_via_get, "client")


async def test_users_share_their_tenant_limit_and_each_has_their_own(
    gateway: str, stack: Stack, auth_resources: Resources
) -> None:
    runtime = runtime_for(auth_resources)
    tenant, other_tenant = uuid.uuid4(), uuid.uuid4()
    alice = await create_user(runtime, tenant_roles={tenant: ["member"]})
    bob = await create_user(runtime, tenant_roles={tenant: ["member"]})
    carol = await create_user(runtime, tenant_roles={other_tenant: ["member"]})
    alice_token = await access_token(stack, alice, tenant)
    bob_token = await access_token(stack, bob, tenant)
    carol_token = await access_token(stack, carol, other_tenant)

    alice_allowed = await calls(gateway, PER_USER, token=alice_token)
    alice_refused = await call(gateway, token=alice_token)
    # Alice's refused request stopped at her own limit, so the tenant has counted PER_USER.
    bob_allowed = await calls(gateway, PER_TENANT - PER_USER, token=bob_token)
    bob_refused = await call(gateway, token=bob_token)
    carol_allowed = await call(gateway, token=carol_token)

    assert alice_allowed == [200] * PER_USER
    assert_refused(alice_refused, "user")
    assert bob_allowed == [200] * (PER_TENANT - PER_USER)
    assert_refused(bob_refused, "tenant")
    assert carol_allowed.status_code == 200


async def test_a_user_is_counted_by_sub_across_tokens_and_addresses(
    gateway: str, stack: Stack, auth_resources: Resources
) -> None:
    user = await create_user(runtime_for(auth_resources))  # no tenant: only the user limit
    tokens = [await access_token(stack, user) for _ in range(PER_USER + 1)]

    allowed = [(await call(gateway, token=token, ip=new_ip())).status_code for token in tokens[:-1]]
    refused = await call(gateway, token=tokens[-1], ip=new_ip())
    # An invalid token is no identity: that caller is counted by its address instead.
    forged = await call(gateway, token=tokens[-1][:-4] + "AAAA", ip=new_ip())

    assert allowed == [200] * PER_USER
    assert_refused(refused, "user")
    assert forged.status_code == 200


async def test_a_mutation_counts_as_several_requests(gateway: str) -> None:
    ip = new_ip()

    mutation = await call(gateway, LOGOUT, ip=ip)
    query = await call(gateway, ip=ip)  # MUTATION_COST + 1 == ANONYMOUS
    refused = await call(gateway, ip=ip)

    assert mutation.status_code == 200
    assert mutation.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert query.status_code == 200
    assert_refused(refused, "client")


async def test_bad_request_bodies_get_a_4xx_not_a_500(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        not_json = await client.post(
            "/graphql", content=b"{nope", headers={"content-type": "application/json"}
        )
        no_query = await client.post("/graphql", json={"variables": {}})
        unparsable = await client.post("/graphql", json={"query": "mutation {"})

    assert not_json.status_code == 400
    assert 400 <= no_query.status_code < 500
    assert unparsable.status_code == 200
    assert unparsable.json()["errors"][0]["message"].startswith("Syntax Error")


async def ws_operations(base: str, ip: str, queries: list[str]) -> list[dict[str, Any]]:
    """Run ``queries`` one after the other over one graphql-transport-ws connection; the first
    message each one got back."""
    url = base.replace("http://", "ws://") + "/graphql"
    first_messages = []
    async with websockets.connect(
        url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers={"x-forwarded-for": ip},
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for number, query in enumerate(queries):
            await ws.send(
                json.dumps({"id": str(number), "type": "subscribe", "payload": {"query": query}})
            )
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            first_messages.append(message)
            if message["type"] == "next":  # a query's result is followed by its completion
                assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "complete"
    return first_messages


async def test_websocket_operations_count_and_a_refused_subscribe_gets_an_error(
    gateway: str,
) -> None:
    ip = new_ip()
    subscription = 'subscription { workflowProgress(id: "none", accessToken: "x") { id } }'

    # ANONYMOUS == 3: the connection, the query and the first subscription.
    messages = await ws_operations(gateway, ip, [TYPENAME, subscription, subscription])

    assert messages[0] == {"id": "0", "type": "next", "payload": {"data": {"__typename": "Query"}}}
    answered = messages[1]["payload"]
    answered_errors = answered if isinstance(answered, list) else answered.get("errors", [])
    assert all(e.get("extensions", {}).get("code") != "RATE_LIMITED" for e in answered_errors)
    assert messages[2]["id"] == "2" and messages[2]["type"] == "error"
    error = messages[2]["payload"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["limit"] == "client"
    assert error["extensions"]["retryAfter"] >= 1


async def test_requests_pass_again_once_the_window_has_moved_on(
    stack: Stack, log_dir: Path
) -> None:
    with gateway_process(
        stack,
        log_dir,
        "gateway-short-window",
        rate_limit_anonymous_requests=2,
        rate_limit_window_seconds=1,
    ) as base:
        ip = new_ip()
        refused = None
        for _ in range(20):  # well within one window unless the machine stalls; then try again
            response = await call(base, ip=ip)
            if response.status_code == 429:
                refused = response
                break
        assert refused is not None
        assert_refused(refused, "client")

        deadline = time.monotonic() + 15
        while (again := await call(base, ip=ip)).status_code == 429:
            assert time.monotonic() < deadline, "still refused long after the window"
            await asyncio.sleep(0.2)

    assert again.status_code == 200
    assert again.json() == {"data": {"__typename": "Query"}}


async def test_redis_unavailable_lets_requests_through_and_logs_it_once(
    stack: Stack, log_dir: Path
) -> None:
    with gateway_process(
        stack,
        log_dir,
        "gateway-no-redis",
        redis_url=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        rate_limit_anonymous_requests=1,
    ) as base:
        ip = new_ip()
        statuses = await calls(base, 4, ip=ip)
        answer = await call(base, ip=ip)
    log = (log_dir / "gateway-no-redis.log").read_text()

    assert statuses == [200] * 4
    assert answer.json() == {"data": {"__typename": "Query"}}
    assert log.count("rate_limit_storage_unavailable") == 1
    assert "fail open" in log


async def test_a_websocket_connection_counts_with_http_and_is_closed_when_over_the_limit(
    gateway: str,
) -> None:
    ip = new_ip()
    await calls(gateway, ANONYMOUS, ip=ip)

    url = gateway.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(
        url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers={"x-forwarded-for": ip},
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 30)

    assert ws.close_code == 4429
    assert ws.close_reason is not None
    assert ws.close_reason.startswith("Too many requests for this client")


@pytest.mark.parametrize(
    "messages",
    [
        [{"type": "connection_init", "payload": "not an object"}],
        [{"type": "connection_init"}, {"type": "subscribe", "id": "1"}],  # no payload
    ],
)
async def test_malformed_websocket_messages_close_the_socket_with_4400(
    gateway: str, messages: list[dict[str, Any]]
) -> None:
    url = gateway.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(
        url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers={"x-forwarded-for": new_ip()},
    ) as ws:
        for message in messages:
            await ws.send(json.dumps(message))
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == (
                    "connection_ack"
                )

    assert ws.close_code == 4400
