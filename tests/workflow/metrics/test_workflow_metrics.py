"""Workflow metrics after real runs on the dev server: the Temporal SDK's own series of the
worker process (workflow completions and failures per type, end-to-end latency, activity
failures, execution latency per activity type, schedule-to-start per task queue; services/common/metrics.py)
and the workflow service's run insight gauges on its ``/metrics`` (per type counts by status and
duration quantiles; services/workflow/runs/insights.py)."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import WorkflowFailureError

from services.common.metrics import temporal_metrics
from tests.workflow.runs.probe_workflows import FLAKY, PROBE
from tests.workflow.runs.runs_api import MANAGE, Caller, RunsApi, eventually

Samples = list[tuple[str, dict[str, str], float]]


def samples_of(text: str) -> Samples:
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        value
        for sample, found, value in samples
        if sample == name and all(found.get(k) == v for k, v in labels.items())
    )


def sdk_samples() -> Samples:
    registry = CollectorRegistry()
    registry.register(temporal_metrics())
    return samples_of(generate_latest(registry).decode())


async def test_sdk_series_count_and_time_the_probe_runs(runs_api: RunsApi) -> None:
    caller = Caller(uuid.uuid4(), uuid.uuid4(), MANAGE)
    queue = runs_api.queue
    before = sdk_samples()
    done = await runs_api.start(caller, "complete")
    failed = await runs_api.start(caller, "fail")
    flaky = await runs_api.start(caller, "flaky")
    await done.result()
    with pytest.raises(WorkflowFailureError):
        await failed.result()

    def grew(name: str, by: float = 1, **labels: str) -> None:
        now = total(sdk_samples(), name, **labels)
        assert now - total(before, name, **labels) >= by, (name, labels, now)

    async def counted() -> None:
        grew("temporal_workflow_completed_total", workflow_type=PROBE, task_queue=queue)
        grew("temporal_workflow_failed_total", workflow_type=PROBE, task_queue=queue)
        grew("temporal_workflow_endtoend_latency_count", workflow_type=PROBE, task_queue=queue)
        grew("temporal_activity_execution_failed_total", 2, activity_type=FLAKY)
        grew("temporal_activity_execution_latency_count", 2, activity_type=FLAKY)
        # Core records schedule-to-start per task queue (not per activity type).
        grew("temporal_activity_schedule_to_start_latency_count", 2, task_queue=queue)
        grew("temporal_workflow_task_execution_latency_count", workflow_type=PROBE)

    # The flaky activity's second failure waits for its retry's backoff: give it time.
    await eventually(counted, timeout=60)
    await flaky.cancel()


async def test_the_workflow_service_serves_insight_gauges_per_type(runs_api: RunsApi) -> None:
    caller = Caller(uuid.uuid4(), uuid.uuid4(), MANAGE)
    done = await runs_api.start(caller, "complete")
    await done.result()
    async with runs_api.client(runs_api.operator_caller()) as client:

        async def gauged() -> Samples:
            await client.get("/runs/insights", params={"window": 3600})  # refreshes the gauges
            samples = samples_of((await client.get("/metrics")).text)
            assert total(samples, "adx_workflow_runs", type=PROBE, status="COMPLETED") >= 1
            return samples

        samples = await eventually(gauged)
    quantiles = {
        labels["quantile"]
        for name, labels, _ in samples
        if name == "adx_workflow_run_duration_seconds" and labels.get("type") == PROBE
    }
    assert quantiles == {"0.5", "0.95"}
