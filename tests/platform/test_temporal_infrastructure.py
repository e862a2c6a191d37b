"""Temporal plumbing: idempotent namespace registration and graceful worker shutdown."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client

# The sandbox re-imports this module for the test workflow: pass the platform imports through.
with workflow.unsafe.imports_passed_through():
    from services.common.namespaces import register_namespaces
    from services.common.settings import Settings
    from services.common.temporal import build_worker


async def test_namespace_registration_is_idempotent(settings: Settings, temporal: Client) -> None:
    name = f"adx-test-{uuid.uuid4().hex[:8]}"

    first = await register_namespaces(settings, [name, "adx-development"])
    second = await register_namespaces(settings, [name])

    assert first == {name: True, "adx-development": False}
    assert second == {name: False}


@activity.defn(name="test.slow_step")
async def slow_step(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "finished"


@workflow.defn(name="test_slow")
class SlowWorkflow:
    @workflow.run
    async def run(self, seconds: float) -> str:
        return await workflow.execute_activity(
            "test.slow_step", seconds, start_to_close_timeout=timedelta(seconds=30)
        )


async def test_shutdown_lets_a_running_activity_finish(
    settings: Settings, temporal: Client
) -> None:
    queue = f"graceful-{uuid.uuid4().hex[:8]}"
    local = settings.model_copy(update={"worker_graceful_shutdown_seconds": 10})
    worker = build_worker(
        temporal, local, task_queue=queue, workflows=[SlowWorkflow], activities=[slow_step]
    )
    running = asyncio.create_task(worker.run())
    handle = await temporal.start_workflow(SlowWorkflow.run, 1.5, id=queue, task_queue=queue)
    # Wait until the activity is actually running, then shut the worker down under it.
    for _ in range(100):
        description = await handle.describe()
        if description.raw_description.pending_activities:
            break
        await asyncio.sleep(0.05)

    await worker.shutdown()
    await running

    history = await handle.fetch_history()
    completed = [
        e for e in history.events if e.HasField("activity_task_completed_event_attributes")
    ]
    assert completed, "the running activity was cut off instead of finishing"
