"""Fixtures of the workflow service's tests (run management over HTTP in tests/workflow/runs/,
through GraphQL in tests/workflow/graphql/): a worker running the probe workflows on its own
queue, and the workflow app in-process with one operator configured."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import ServiceName, Settings
from services.common.temporal import build_worker
from services.workflow.service import create_workflow_app
from tests.workflow.runs.probe_workflows import Probe, ProbeChild, flaky
from tests.workflow.runs.runs_api import RunsApi


@pytest.fixture(scope="session")
async def probe_queue(temporal: Client, settings: Settings) -> AsyncIterator[str]:
    queue = f"runs-probe-{uuid.uuid4().hex[:8]}"
    worker = build_worker(
        temporal, settings, task_queue=queue, workflows=[Probe, ProbeChild], activities=[flaky]
    )
    async with worker:
        yield queue


@pytest.fixture(scope="session")
async def runs_api(
    resources_for: Callable[[ServiceName], Awaitable[Resources]],
    auth_runtime: AuthRuntime,
    probe_queue: str,
) -> RunsApi:
    resources: Resources = await resources_for(ServiceName.workflow)
    operator = uuid.uuid4()
    local = resources.settings.model_copy(
        update={
            "workflow_operator_user_ids": str(operator),
            "workflow_batch_rate_per_second": 50.0,
            "workflow_insights_refresh_seconds": 0.0,
        }
    )
    resources = dataclasses.replace(resources, settings=local)
    return RunsApi(
        app=create_workflow_app(resources),
        runtime=auth_runtime,
        resources=resources,
        queue=probe_queue,
        operator=operator,
    )
