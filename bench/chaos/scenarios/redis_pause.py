"""Pause Redis with SIGSTOP for the outage, then SIGCONT: the nasty case, a server that accepts TCP
and never answers. Every Redis call is bounded by the client's socket timeout
(``storage/redis.py``), so requests answer ``SERVICE_UNAVAILABLE`` (or go on without Redis
where it fails open, docs/gateway.md) instead of hanging; afterwards everything recovers by
itself (the pub/sub fan-out reads again, the subscribers' runs are followed to the end)."""

from __future__ import annotations

import asyncio

from bench.chaos.runs import wait_for_runs
from bench.chaos.stack import ChaosStack
from bench.mixed_load import MixedLoad


async def run(stack: ChaosStack, load: MixedLoad, outage_seconds: float) -> None:
    await wait_for_runs(load, 1, within=60)
    with stack.fault("Redis paused (SIGSTOP), resumed (SIGCONT)") as fault:
        fault.details["open_sockets"] = load.report().subscriptions.sockets
        await asyncio.to_thread(stack.pause, "redis")
        try:
            await asyncio.sleep(outage_seconds)
        finally:
            await asyncio.to_thread(stack.resume, "redis")
    await asyncio.to_thread(stack.wait_ready, 120.0)
