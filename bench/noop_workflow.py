"""The bare baseline of ``bench/tenant_create.py``: a workflow of ``count`` sequential no-op
activities (kept apart from the bench so the workflow sandbox imports nothing else)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bench.noop")
async def noop(step: int) -> int:
    return step


@workflow.defn(name="bench_noop_chain")
class NoopChainWorkflow:
    @workflow.run
    async def run(self, count: int) -> int:
        for step in range(count):
            await workflow.execute_activity(
                noop, step, start_to_close_timeout=timedelta(seconds=30)
            )
        return count
