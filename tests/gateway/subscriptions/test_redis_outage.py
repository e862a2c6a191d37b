"""A subscription over a Redis frozen with SIGSTOP (it accepts TCP and never answers; issue 13,
"pause Redis"): the subscription stays open through the stall, and once Redis answers again it
hears the run's end, which the relaying pump could not publish meanwhile (a pump that stopped
on the stall is started again by the subscriber).

The relay runs in-process on a redis-server of this module's own; the run is the subscription
tests' hold workflow on the test run's Temporal."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from temporalio.client import Client

from gateway.progress_relay import ProgressRelay, RunState
from services.devstack.ports import free_port
from services.devstack.processes import ManagedProcess
from services.devstack.redis import redis_url, start_redis
from storage.redis import RedisKeys, create_redis
from tests.gateway.subscriptions.served import start_hold

#: Long enough for the pump to fail on the stall (two Redis timeouts) and the subscriber to
#: ask for the relay lock in several of its one-second rounds.
STALL_SECONDS = 8.0


@dataclass
class PrivateRedis:
    process: ManagedProcess
    url: str


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    port = free_port()
    redis = start_redis(
        tmp_path_factory.mktemp("stalled-redis"), port, echo=False, die_with_parent=True
    )
    try:
        yield PrivateRedis(redis, redis_url(port))
    finally:
        redis.stop()


@pytest.fixture
async def relay(private_redis: PrivateRedis, temporal: Client) -> AsyncIterator[ProgressRelay]:
    client = create_redis(private_redis.url)
    relay = ProgressRelay(temporal, client, RedisKeys(f"stall-{uuid.uuid4().hex[:8]}"), 0.1)
    try:
        yield relay
    finally:
        await relay.aclose()
        await client.aclose()


def freeze(redis: PrivateRedis, signum: signal.Signals) -> None:
    assert redis.process.pgid is not None
    os.killpg(redis.process.pgid, signum)


async def test_a_subscription_stays_open_through_a_stalled_redis_and_hears_the_end_after(
    relay: ProgressRelay, private_redis: PrivateRedis, hold_worker: Client
) -> None:
    handle = await start_hold(hold_worker, owner=None)
    states: list[RunState] = []
    first = asyncio.Event()

    async def follow() -> None:
        async for state in relay.subscribe(handle.id, max_seconds=120):
            states.append(state)
            first.set()

    subscriber = asyncio.create_task(follow())
    await asyncio.wait_for(first.wait(), 30)
    assert states[0].status == "RUNNING"

    freeze(private_redis, signal.SIGSTOP)
    try:
        # The run ends while Redis cannot carry the news (the pump's publish times out).
        await handle.signal("finish")
        await handle.result()
        await asyncio.sleep(STALL_SECONDS)
        stalled_through = not subscriber.done()
    finally:
        freeze(private_redis, signal.SIGCONT)

    assert stalled_through, f"the subscription ended in the stall: {subscriber.exception()!r}"
    await asyncio.wait_for(subscriber, 30)  # raises what ended it, if anything did
    assert states[-1].status == "COMPLETED", states
