"""Stop PostgreSQL (its fast shutdown: every session ended) for the outage, then start it again on
the same data directory. Meanwhile the routes that need it answer 503 (``SERVICE_UNAVAILABLE``
through the gateway), readiness names it, and activities fail retryably; afterwards every pool
serves again without a restart and the runs go on (docs/data.md, "When PostgreSQL is away")."""

from __future__ import annotations

import asyncio

from bench.chaos.runs import wait_for_runs
from bench.chaos.stack import ChaosStack
from bench.mixed_load import MixedLoad


async def run(stack: ChaosStack, load: MixedLoad, outage_seconds: float) -> None:
    await wait_for_runs(load, 1, within=60)
    loop = asyncio.get_running_loop()
    with stack.fault("PostgreSQL stopped (fast shutdown), started again") as fault:
        await asyncio.to_thread(stack.stop, "postgres")
        await asyncio.sleep(outage_seconds)
        started = loop.time()
        await asyncio.to_thread(stack.start, "postgres")
        fault.details["server_start_seconds"] = round(loop.time() - started, 2)
    await asyncio.to_thread(stack.wait_ready, 120.0)
