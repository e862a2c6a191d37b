"""Fixtures of the subscription tests: a worker running the hold workflow (``served.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from tests.gateway.subscriptions.served import QUEUE, Hold


@pytest.fixture(scope="module")
async def hold_worker(temporal: Client) -> AsyncIterator[Client]:
    worker = Worker(
        temporal,
        task_queue=QUEUE,
        workflows=[Hold],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    task = asyncio.create_task(worker.run())
    yield temporal
    await worker.shutdown()
    await asyncio.gather(task, return_exceptions=True)
