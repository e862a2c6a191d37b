"""Test-only workflow and activity that fail while holding a planted secret in their input and in
their local variables (tests/platform/test_temporal_failure_logging.py checks the logs never show it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

LEAKY_ACTIVITY = "test.logs.leaky_create_credentials"


@dataclass
class LeakyInput:
    """Shaped like CreateCredentialsInput: an e-mail and a plaintext secret."""

    email: str
    password: str


@activity.defn(name=LEAKY_ACTIVITY)
async def leaky_create_credentials(inp: LeakyInput) -> None:
    attempt = {"email": inp.email, "password": inp.password}  # noqa: F841 - a planted local
    raise RuntimeError(f"an account already exists: {inp!r}")


@workflow.defn(name="test_logs_activity_failure")
class ActivityFailureWorkflow:
    @workflow.run
    async def run(self, inp: LeakyInput) -> str:
        try:
            await workflow.execute_activity(
                LEAKY_ACTIVITY,
                inp,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except ActivityError:
            return "failed"
        return "completed"


@workflow.defn(name="test_logs_workflow_task_failure")
class WorkflowTaskFailureWorkflow:
    """Raises a non-Temporal error: the workflow task fails (and is retried) instead of the run."""

    @workflow.run
    async def run(self, inp: LeakyInput) -> str:
        held = {"password": inp.password}  # noqa: F841 - a planted local
        raise RuntimeError(f"a bug while registering {inp!r}")
