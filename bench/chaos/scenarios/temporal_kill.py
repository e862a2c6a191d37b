"""kill -9 the Temporal dev server, start it again on the same port and database file after the
outage. The services' clients and workers reconnect by themselves; meanwhile the gateway answers
``SERVICE_UNAVAILABLE`` for what needs Temporal, never a 500."""

from __future__ import annotations

import asyncio

from bench.chaos.runs import wait_for_runs
from bench.chaos.stack import ChaosStack
from bench.mixed_load import MixedLoad


async def run(stack: ChaosStack, load: MixedLoad, outage_seconds: float) -> None:
    await wait_for_runs(load, 1, within=60)
    with stack.fault("Temporal dev server killed (kill -9), restarted") as fault:
        await asyncio.to_thread(stack.kill, "temporal")
        await asyncio.sleep(outage_seconds)
        started = asyncio.get_running_loop().time()
        await asyncio.to_thread(stack.start, "temporal")
        fault.details["server_start_seconds"] = round(
            asyncio.get_running_loop().time() - started, 2
        )
    await asyncio.to_thread(stack.wait_ready, 180.0)
