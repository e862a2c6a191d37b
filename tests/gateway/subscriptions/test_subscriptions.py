"""graphql-transport-ws on an in-process gateway over the test run's Redis and Temporal:
heartbeat pings, 4401 for a bad or expired token, the per-user cap (4429), the end at token
expiry, the cached final state of a closed run and one progress query per poll interval for
many subscribers of one run."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
import websockets
from temporalio.client import Client

from gateway.run_access import identify_run
from services.auth.runtime import runtime_for
from services.auth.token_issuer import TokenIssuer
from services.common.resources import Resources
from tests.gateway.subscriptions.served import Served, served_gateway, start_hold

PROGRESS = (
    "subscription($id: ID!, $t: String) "
    "{ workflowProgress(id: $id, accessToken: $t) { id status progress { label } } }"
)
RUN = "query($id: ID!) { workflowRun(id: $id) { id status result progress { label } } }"
PING_SECONDS = 0.3
CAP = 2


def mint(auth_resources: Resources, user_id: str, lifetime: int | None = None) -> str:
    runtime = runtime_for(auth_resources)
    issuer = runtime.issuer
    if lifetime is not None:
        issuer = TokenIssuer(
            runtime.keys,
            auth_resources.settings.model_copy(update={"auth_access_token_seconds": lifetime}),
        )
    return issuer.access_token(
        user_id=user_id,
        session_id=str(uuid.uuid4()),
        tenant_id=None,
        roles=[],
        auth_methods=["pwd"],
    )


@pytest.fixture
async def gateway(gateway_resources: Resources, auth_resources: Resources) -> Any:
    async with served_gateway(
        gateway_resources,
        auth_resources,
        subscription_ping_seconds=PING_SECONDS,
        subscription_max_per_user=CAP,
    ) as served:
        yield served


async def connect(gateway: Served, token: str | None = None) -> Any:
    ws = await websockets.connect(gateway.ws, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    payload = {"Authorization": f"Bearer {token}"} if token else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    return ws


async def acked(gateway: Served, token: str | None = None) -> Any:
    ws = await connect(gateway, token)
    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
    return ws


async def subscribe(ws: Any, op_id: str, variables: dict[str, Any]) -> None:
    payload = {"query": PROGRESS, "variables": variables}
    await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))


async def next_of(ws: Any, op_id: str, timeout: float = 15) -> dict[str, Any]:
    """The next message of operation ``op_id`` (pings answered, skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))
                continue
            if message.get("id") == op_id:
                return message  # type: ignore[no-any-return]


async def closed(ws: Any, timeout: float = 15) -> tuple[int | None, str | None]:
    with pytest.raises(websockets.ConnectionClosed):
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    return ws.close_code, ws.close_reason


async def test_pings_arrive_on_anonymous_and_signed_in_sockets(
    gateway: Served, auth_resources: Resources
) -> None:
    for token in (None, mint(auth_resources, str(uuid.uuid4()))):
        ws = await acked(gateway, token)
        started = time.monotonic()
        pings = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
        await ws.close()
        assert pings == [{"type": "ping"}, {"type": "ping"}]
        assert time.monotonic() - started >= PING_SECONDS


@pytest.mark.parametrize("kind", ["garbage", "expired"])
async def test_a_bad_or_expired_token_is_closed_with_4401(
    gateway: Served, auth_resources: Resources, kind: str
) -> None:
    token = "not.a.token" if kind == "garbage" else mint(auth_resources, "u", lifetime=-60)
    ws = await connect(gateway, token)
    code, reason = await closed(ws)
    assert code == 4401
    assert reason is not None and reason.startswith("Unauthorized")


async def test_past_the_cap_the_socket_is_closed_with_4429_and_an_ended_one_frees_a_slot(
    gateway: Served, auth_resources: Resources, hold_worker: Client
) -> None:
    user = str(uuid.uuid4())
    token = mint(auth_resources, user)
    handle = await start_hold(hold_worker, owner=user)
    first, second = await acked(gateway, token), await acked(gateway, token)  # across sockets
    await subscribe(first, "a", {"id": handle.id})
    await subscribe(second, "b", {"id": handle.id})
    assert (await next_of(first, "a"))["type"] == "next"
    assert (await next_of(second, "b"))["type"] == "next"
    assert await gateway.state.subscriptions.held(user) == CAP

    third = await acked(gateway, token)
    await subscribe(third, "c", {"id": handle.id})
    code, reason = await closed(third)
    assert code == 4429
    assert reason == f"Too many subscriptions: at most {CAP} per user"

    await first.send(json.dumps({"id": "a", "type": "complete"}))  # the client ends one
    async with asyncio.timeout(5):
        while await gateway.state.subscriptions.held(user) != CAP - 1:
            await asyncio.sleep(0.05)
    fourth = await acked(gateway, token)
    await subscribe(fourth, "d", {"id": handle.id})
    assert (await next_of(fourth, "d"))["type"] == "next"

    # An anonymous socket with the run's access token is not capped (signUp's way in).
    run = await identify_run(await handle.describe())
    anonymous = await acked(gateway)
    await subscribe(anonymous, "e", {"id": handle.id, "t": gateway.state.run_access.token(run)})
    assert (await next_of(anonymous, "e"))["type"] == "next"

    for ws in (first, second, fourth, anonymous):
        await ws.close()
    await handle.signal("finish")
    async with asyncio.timeout(5):  # the leases go when the sockets do
        while await gateway.state.subscriptions.held(user):
            await asyncio.sleep(0.05)


async def test_a_subscription_ends_with_4401_when_its_token_expires(
    gateway: Served, auth_resources: Resources, hold_worker: Client
) -> None:
    user = str(uuid.uuid4())
    handle = await start_hold(hold_worker, owner=user)
    ws = await acked(gateway, mint(auth_resources, user, lifetime=3))
    await subscribe(ws, "1", {"id": handle.id})
    assert (await next_of(ws, "1"))["payload"]["data"]["workflowProgress"]["status"] == "RUNNING"
    started = time.monotonic()

    code, reason = await closed(ws, timeout=10)

    assert (code, reason) == (4401, "Token expired")
    assert time.monotonic() - started < 5
    async with asyncio.timeout(5):
        while await gateway.state.subscriptions.held(user):
            await asyncio.sleep(0.05)
    await handle.signal("finish")


async def test_a_closed_runs_second_read_does_not_query_temporal(
    gateway: Served, auth_resources: Resources, hold_worker: Client
) -> None:
    user = str(uuid.uuid4())
    handle = await start_hold(hold_worker, owner=user)
    await handle.signal("finish")
    await handle.result()
    headers = {"authorization": f"Bearer {mint(auth_resources, user)}"}
    reads = gateway.state.relay.temporal_reads
    answers = []
    async with httpx.AsyncClient(base_url=gateway.url, headers=headers) as client:
        for _ in range(2):
            before = dict(reads)
            response = await client.post(
                "/graphql", json={"query": RUN, "variables": {"id": handle.id}}
            )
            answers.append(response.json())
            after = dict(reads)
            delta = {kind: after[kind] - before[kind] for kind in after}
            if len(answers) == 1:
                assert delta["progress"] == 1 and delta["result"] == 1, delta
            else:
                assert delta["progress"] == 0 and delta["result"] == 0, delta
            await asyncio.sleep(0.5)  # past the shared-read window: only the cache answers

    assert answers[0] == answers[1]
    run = answers[1]["data"]["workflowRun"]
    assert run["status"] == "COMPLETED" and run["result"] == "finished"
    # Sealed in Redis: the result is not stored in the clear.
    keys = [key async for key in gateway.state.relay.redis.scan_iter(match=f"*{handle.id}*final*")]
    assert len(keys) == 1
    stored = await gateway.state.relay.redis.get(keys[0])
    assert "finished" not in stored and "COMPLETED" not in stored


async def test_many_subscribers_of_one_run_cost_one_progress_query_per_interval(
    gateway: Served, auth_resources: Resources, hold_worker: Client
) -> None:
    subscribers = 8
    handle = await start_hold(hold_worker, owner=None)
    run = await identify_run(await handle.describe())
    variables = {"id": handle.id, "t": gateway.state.run_access.token(run)}
    sockets = [await acked(gateway) for _ in range(subscribers)]
    reads = gateway.state.relay.temporal_reads
    poll = gateway.state.relay.poll_seconds
    before, started = reads["progress"], time.monotonic()

    for ws in sockets:  # all at once
        await subscribe(ws, "1", variables)
    for ws in sockets:
        assert (await next_of(ws, "1"))["type"] == "next"
    await asyncio.sleep(1.5)
    queries, elapsed = reads["progress"] - before, time.monotonic() - started

    assert queries <= elapsed / poll + 2, (queries, elapsed)
    for ws in sockets:
        await ws.close()
    await handle.signal("finish")
