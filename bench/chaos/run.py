"""One chaos run: the mixed load on a ChaosStack, the scenario's fault after a warm-up, the load
going on until every kind of operation succeeded again and then until the end of its time (and at
least ``tail`` seconds more), then the verdict."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from bench.chaos.scenarios import SCENARIOS
from bench.chaos.stack import ChaosStack
from bench.chaos.verdict import RecoveryWatch, Verdict, judge, last_fault_end
from bench.mixed_load import Account, LoadTarget, MixedLoad, prepare_accounts


@dataclass(frozen=True)
class RunPlan:
    """How long and how hard: ``seconds`` of load at ``rate``/s, the fault ``warmup`` seconds
    in, an outage of ``outage`` seconds, at least ``tail`` seconds of load after it."""

    outage: float = 30.0
    seconds: float = 60.0
    rate: float = 20.0
    subscribers: int = 10
    warmup: float = 5.0
    tail: float = 10.0
    #: The load goes on after the fault until every kind succeeded again, at most this long.
    recover_within: float = 120.0
    close_within: float = 180.0
    op_timeout: float = 10.0


#: The short version CI runs (tests/operations/chaos): a 5 s fault in 15 s of light load.
SHORT = RunPlan(outage=5.0, seconds=15.0, rate=5.0, subscribers=3, warmup=3.0, tail=5.0)


async def load_target(stack: ChaosStack, accounts: int = 4) -> LoadTarget:
    """Accounts (each with a tenant of its own) for the load, made once per stack."""
    made: list[Account] = await prepare_accounts(stack.gateway_url, stack.database_url, accounts)
    return LoadTarget(stack.gateway_url, made)


async def run_scenario(
    stack: ChaosStack, name: str, target: LoadTarget, plan: RunPlan = RunPlan()
) -> Verdict:
    scenario = SCENARIOS[name]
    faults_before = len(stack.faults)
    restarts_before = len(stack.restarts)
    load = MixedLoad(target, rate=plan.rate, subscribers=plan.subscribers, timeout=plan.op_timeout)
    async with load:
        begun = time.monotonic()
        watch = RecoveryWatch(load).start()
        try:
            await asyncio.sleep(plan.warmup)
            await scenario(stack, load, plan.outage)
            fault_end = last_fault_end(stack.faults[faults_before:])
            if fault_end is not None:  # the load goes on until it succeeds again (bounded)
                await watch.until_recovered(fault_end, plan.recover_within)
            left = max(plan.seconds - (time.monotonic() - begun), plan.tail)
            await asyncio.sleep(left)
        finally:
            await watch.stop()
    await watch.stop()  # a last sample once the operations in flight have ended
    return await judge(
        stack,
        load,
        watch,
        scenario=name,
        faults=stack.faults[faults_before:],
        restarts_before=restarts_before,
        close_within=plan.close_within,
    )
