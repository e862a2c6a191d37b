"""The bare baseline of ``bench/onboarding_bench.py``: a workflow that replays the shape of a real
run (its activities in order, each on its queue, and its child workflows, awaited or abandoned)
with no-op activities (kept apart from the bench so the workflow sandbox imports nothing else)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from bench.noop_workflow import noop


@dataclass
class Step:
    """An activity on ``queue`` (``children`` None), or a child workflow on ``queue`` running
    ``children`` in turn: awaited, or only started and abandoned."""

    queue: str
    children: list[Step] | None = None
    abandoned: bool = False


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)


@workflow.defn(name="bench_noop_plan")
class NoopPlanWorkflow:
    @workflow.run
    async def run(self, plan: Plan) -> int:
        info = workflow.info()
        for index, step in enumerate(plan.steps):
            if step.children is None:
                await workflow.execute_activity(
                    noop, index, task_queue=step.queue, start_to_close_timeout=timedelta(seconds=30)
                )
                continue
            child_id = f"{info.workflow_id}-{index}"
            if step.abandoned:
                await workflow.start_child_workflow(
                    NoopPlanWorkflow.run,
                    Plan(step.children),
                    id=child_id,
                    task_queue=step.queue,
                    parent_close_policy=ParentClosePolicy.ABANDON,
                )
            else:
                await workflow.execute_child_workflow(
                    NoopPlanWorkflow.run, Plan(step.children), id=child_id, task_queue=step.queue
                )
        return len(plan.steps)
