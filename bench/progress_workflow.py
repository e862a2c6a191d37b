"""The subscription lag bench's workflow (``bench/gateway_bench.py``): ``steps`` steps, each a
timer of ``step_seconds``, its completion time (workflow time, i.e. when the worker took up the
fired timer) in the progress label, so a subscriber can tell how long the event took to reach
it. Kept apart from the bench so the workflow sandbox imports nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.common.progress import PROGRESS_QUERY, Progress

NAME = "bench_progress_steps"


@dataclass
class StepsInput:
    steps: int
    step_seconds: float


@workflow.defn(name=NAME)
class ProgressStepsWorkflow:
    def __init__(self) -> None:
        self._progress = Progress(step=0, total=1, label="0", percent=0)

    @workflow.run
    async def run(self, params: StepsInput) -> int:
        for step in range(1, params.steps + 1):
            await workflow.sleep(timedelta(seconds=params.step_seconds))
            self._progress = Progress(
                step=step,
                total=params.steps,
                label=f"{workflow.now().timestamp():.6f}",  # when this step completed
                percent=100 * step // params.steps,
            )
        return params.steps

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress
