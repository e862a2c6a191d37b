"""kill -9 the worker-carrying process of the service whose activity is running, mid-activity;
the supervisor starts it again after the outage, and the runs resume on the new worker (the lost
attempt times out and is retried: activities are idempotent, so nothing is written twice)."""

from __future__ import annotations

import asyncio

from bench.chaos.runs import running_activity, stack_client, wait_for_runs
from bench.chaos.stack import ChaosStack
from bench.mixed_load import MixedLoad

#: The load's workflow (createTenant: tenant_provisioning) runs on the tenant service's queue:
#: its worker is the one killed when no activity attempt is caught running.
LOAD_WORKFLOW_SERVICE = "tenant"


async def run(stack: ChaosStack, load: MixedLoad, outage_seconds: float) -> None:
    await wait_for_runs(load, 1, within=60)
    client = await stack_client(stack)
    found = await running_activity(client, load.started_runs, within=15)
    pid = found.worker_pid if found is not None else None
    victim = (stack.service_of_pid(pid) if pid is not None else None) or LOAD_WORKFLOW_SERVICE
    restarts = stack.restart_count(victim)
    with stack.fault(f"{victim} killed (kill -9)") as fault:
        fault.details.update(
            service=victim,
            mid_activity=found is not None and stack.service_of_pid(pid or -1) == victim,
            activity=found.activity_type if found is not None else None,
            workflow_id=found.workflow_id if found is not None else None,
        )
        await asyncio.to_thread(stack.kill, victim, down_for=outage_seconds)
        await asyncio.to_thread(stack.wait_restarted, victim, restarts, outage_seconds + 60)
    await asyncio.to_thread(stack.wait_ready, 120.0, (victim,))
