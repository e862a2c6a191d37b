"""kill -9 the gateway while subscribers follow runs; the supervisor starts it again after the
outage, and the load's subscribers reconnect and resume following their runs to the end."""

from __future__ import annotations

import asyncio

from bench.chaos.runs import wait_for_runs
from bench.chaos.stack import ChaosStack
from bench.mixed_load import MixedLoad


async def following(load: MixedLoad, within: float) -> None:
    """Until a subscriber is following a run that has not ended (or ``within`` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        subscriptions = load.report().subscriptions
        if subscriptions.opened > subscriptions.runs_followed_to_end:
            return
        await asyncio.sleep(0.1)


async def run(stack: ChaosStack, load: MixedLoad, outage_seconds: float) -> None:
    await wait_for_runs(load, 2, within=60)
    await following(load, within=30)
    restarts = stack.restart_count("gateway")
    with stack.fault("gateway killed (kill -9)") as fault:
        fault.details["open_sockets"] = load.report().subscriptions.sockets
        await asyncio.to_thread(stack.kill, "gateway", down_for=outage_seconds)
        await asyncio.to_thread(stack.wait_restarted, "gateway", restarts, outage_seconds + 60)
    await asyncio.to_thread(stack.wait_ready, 120.0, ("gateway",))
