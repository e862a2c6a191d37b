"""Test-only workflows for run management (tests/workflow/runs/): a run that completes, fails,
waits forever (a stuck run with a stack trace), retries a failing activity (a pending activity
with attempts and a last failure) or waits on a child; each with a ``progress`` query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

PROBE = "test_runs_probe"
PROBE_CHILD = "test_runs_probe_child"
FLAKY = "test.runs.flaky"


@dataclass
class ProbeInput:
    #: complete | fail | wait | flaky | parent
    mode: str
    label: str = ""


@activity.defn(name=FLAKY)
async def flaky(label: str) -> str:
    raise RuntimeError(f"flaky step failed for {label}")


@workflow.defn(name=PROBE_CHILD)
class ProbeChild:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


@workflow.defn(name=PROBE)
class Probe:
    def __init__(self) -> None:
        self._step = 0

    @workflow.query
    def progress(self) -> dict[str, Any]:
        return {
            "step": self._step,
            "total": 2,
            "label": "probing",
            "percent": 50,
            "state": "running",
        }

    @workflow.run
    async def run(self, arg: ProbeInput) -> dict[str, str]:
        self._step = 1
        if arg.mode == "fail":
            raise ApplicationError("probe failed", type="ProbeFailed", non_retryable=True)
        if arg.mode == "wait":
            await workflow.wait_condition(lambda: False)
        if arg.mode == "flaky":
            await workflow.execute_activity(
                FLAKY,
                arg.label,
                start_to_close_timeout=timedelta(seconds=5),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=200),
                    backoff_coefficient=1.0,
                    maximum_interval=timedelta(seconds=30),
                    maximum_attempts=1000,
                ),
            )
        if arg.mode == "parent":
            await workflow.execute_child_workflow(
                PROBE_CHILD, id=f"{workflow.info().workflow_id}-child"
            )
        return {"echo": arg.label}
