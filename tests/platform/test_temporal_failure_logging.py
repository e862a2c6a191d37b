"""Activity and workflow failures are logged without their inputs (issue 6, finding 4).

A second sign-up for a taken address made ``auth.create_credentials`` fail, and the Temporal
SDK's "Completing activity as failed" warning printed ``CreateCredentialsInput(..., password=…)``
into auth.log: Rich showed the failing frame's local variables. Here an activity and a workflow
fail on the real Temporal dev server with a planted secret in their input, their locals and their
exception messages, and the logs as the services render them (JSON and console) must not carry it.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import Client

from services.common.settings import Settings
from services.common.temporal import build_worker
from tests.log_capture import captured_logs
from tests.platform.log_leak_workflows import (
    ActivityFailureWorkflow,
    LeakyInput,
    WorkflowTaskFailureWorkflow,
    leaky_create_credentials,
)


async def _until(lines: list[str], text: str, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not any(text in line for line in lines):
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("json_logs", [True, False], ids=["json", "console"])
async def test_failures_are_logged_without_the_secrets_they_held(
    temporal: Client, settings: Settings, json_logs: bool
) -> None:
    planted = f"planted-{uuid.uuid4().hex}"
    inp = LeakyInput(email="taken@example.com", password=planted)
    queue = f"logs-{uuid.uuid4().hex[:8]}"
    logging_settings = settings.model_copy(update={"log_json": json_logs, "log_level": "INFO"})
    with captured_logs(logging_settings, "auth") as lines:
        worker = build_worker(
            temporal,
            settings,
            task_queue=queue,
            workflows=[ActivityFailureWorkflow, WorkflowTaskFailureWorkflow],
            activities=[leaky_create_credentials],
        )
        async with worker:
            result = await temporal.execute_workflow(
                ActivityFailureWorkflow.run, inp, id=f"logs-activity-{queue}", task_queue=queue
            )
            assert result == "failed"
            stuck = await temporal.start_workflow(
                WorkflowTaskFailureWorkflow.run, inp, id=f"logs-task-{queue}", task_queue=queue
            )
            try:
                await _until(lines, "Failed activation on workflow")
            finally:
                await stuck.terminate("test done")
    output = "\n".join(lines)
    # Both SDK failure paths were logged, with their tracebacks and exception messages...
    assert "Completing activity as failed" in output
    assert "RuntimeError: an account already exists: LeakyInput(" in output
    assert "RuntimeError: a bug while registering LeakyInput(" in output
    # The message is there; the secret and the personal data in it are not (by key: email=...).
    assert "email=" in output and "taken@example.com" not in output
    # ...and the planted secret nowhere: not from locals, not from the input's repr.
    assert planted not in output
