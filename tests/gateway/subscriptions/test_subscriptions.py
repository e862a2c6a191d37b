"""graphql-transport-ws on an in-process gateway over the test run's Redis and Temporal:
heartbeat pings, 4401 for a bad or expired token, the per-user cap (4429), the end at token
expiry, the cached final state of a closed run, many concurrent subscribers of one run all
admitted for one state read (and one more per change, by the history long poll), and a new run
under a reused workflow id answered as itself at once."""

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
    assert isinstance(stored, str)
    assert "finished" not in stored and "COMPLETED" not in stored


def reads_since(gateway: Served, before: dict[str, int]) -> dict[str, int]:
    return {kind: n - before.get(kind, 0) for kind, n in gateway.state.relay.temporal_reads.items()}


async def test_concurrent_subscribers_of_one_run_are_all_admitted_and_share_its_reads(
    gateway_resources: Resources, auth_resources: Resources, hold_worker: Client
) -> None:
    # A poll interval far longer than the test: whatever reaches the subscribers comes from
    # reads shared among them and from the relay's history long poll, not from a busy poll.
    async with served_gateway(
        gateway_resources, auth_resources, progress_poll_seconds=10.0
    ) as gateway:
        subscribers = 40
        handle = await start_hold(hold_worker, owner=None)
        run = await identify_run(await handle.describe())
        variables = {"id": handle.id, "t": gateway.state.run_access.token(run)}
        sockets = await asyncio.gather(*(acked(gateway) for _ in range(subscribers)))
        before = dict(gateway.state.relay.temporal_reads)

        await asyncio.gather(*(subscribe(ws, "1", variables) for ws in sockets))
        firsts = await asyncio.gather(*(next_of(ws, "1") for ws in sockets))

        # Every one admitted (none SERVICE_UNAVAILABLE), shown the run as it is.
        assert [m["type"] for m in firsts] == ["next"] * subscribers, firsts
        states = {json.dumps(m["payload"], sort_keys=True) for m in firsts}
        assert len(states) == 1, states
        assert firsts[0]["payload"]["data"]["workflowProgress"]["status"] == "RUNNING"
        admitted = reads_since(gateway, before)
        assert admitted["progress"] == 1, admitted  # one state read for all of them
        assert admitted["describe"] <= 3, admitted  # the first arrivals' access checks
        assert gateway.state.relay.fanout.channels == 1  # one Redis subscription for them all

        await asyncio.sleep(1.0)  # idle: the long poll waits, nothing is read again
        idle = reads_since(gateway, before)
        assert (idle["progress"], idle["describe"]) == (1, admitted["describe"]), idle

        await handle.signal("step")
        steps = await asyncio.gather(*(next_of(ws, "1") for ws in sockets))
        assert {m["payload"]["data"]["workflowProgress"]["progress"]["label"] for m in steps} == {
            "held"
        }
        stepped = reads_since(gateway, before)
        assert stepped["progress"] == 2, stepped  # one more read for the change, for everyone
        assert stepped["history"] >= 1, stepped

        await handle.signal("finish")
        ends = await asyncio.gather(*(next_of(ws, "1") for ws in sockets))
        assert {m["payload"]["data"]["workflowProgress"]["status"] for m in ends} == {"COMPLETED"}
        for ws in sockets:
            await ws.close()


async def test_a_new_run_under_a_reused_workflow_id_is_answered_as_itself(
    gateway: Served, hold_worker: Client
) -> None:
    """As ``tenant-suspension-<tenant>``: a run ends and the next starts under the same id at
    once (suspend, then resume); the new run's token must open the new run straight away."""
    workflow_id = f"subscription-reuse-{uuid.uuid4().hex}"
    access = gateway.state.run_access

    async def token_of(handle: Any) -> str:
        return access.token(await identify_run(await handle.describe()))

    async def run_read(token: str) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            response = await client.post(
                "/graphql",
                json={
                    "query": "query($id: ID!, $t: String) { workflowRun(id: $id, accessToken: $t) "
                    "{ status progress { step } } }",
                    "variables": {"id": workflow_id, "t": token},
                },
            )
        return response.json()  # type: ignore[no-any-return]

    # Run 1 followed by a subscriber (its relay long-polls it) and read by its token.
    first = await start_hold(hold_worker, owner=None, workflow_id=workflow_id)
    first_token = await token_of(first)
    ws = await acked(gateway)
    await subscribe(ws, "1", {"id": workflow_id, "t": first_token})
    assert (await next_of(ws, "1"))["payload"]["data"]["workflowProgress"]["status"] == "RUNNING"
    assert (await run_read(first_token))["data"]["workflowRun"]["status"] == "RUNNING"

    # It ends and the next run starts at once, the subscriber not waited for.
    await first.signal("finish")
    await first.result()
    second = await start_hold(hold_worker, owner=None, workflow_id=workflow_id)
    second_token = await token_of(second)
    assert second_token != first_token

    answer = await run_read(second_token)
    assert answer.get("errors") is None, answer
    assert answer["data"]["workflowRun"]["status"] == "RUNNING"
    other = await acked(gateway)
    await subscribe(other, "2", {"id": workflow_id, "t": second_token})
    shown = await next_of(other, "2")
    assert shown["type"] == "next", shown
    assert shown["payload"]["data"]["workflowProgress"]["status"] == "RUNNING", shown
    # The first subscriber saw its own run end, not the next one.
    ended = await next_of(ws, "1")
    assert ended["payload"]["data"]["workflowProgress"]["status"] == "COMPLETED", ended

    # Run 2 ends too (read by its token: its closed state now the latest), and run 3 starts at
    # once: read with run 3's token right after run 2's closed description was read.
    await second.signal("finish")
    await second.result()
    assert (await run_read(second_token))["data"]["workflowRun"]["status"] == "COMPLETED"
    third = await start_hold(hold_worker, owner=None, workflow_id=workflow_id)
    answer = await run_read(await token_of(third))
    assert answer.get("errors") is None, answer
    assert answer["data"]["workflowRun"]["status"] == "RUNNING"
    # An earlier run's token does not open the id's latest run (another chain).
    stale = await run_read(first_token)
    assert stale["data"] is None or stale["data"]["workflowRun"] is None
    assert stale["errors"][0]["extensions"]["code"] == "NOT_FOUND", stale

    for socket in (ws, other):
        await socket.close()
    await third.signal("finish")
