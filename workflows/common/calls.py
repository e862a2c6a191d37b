"""Calling another service's activity from a workflow: by name, on that service's queue,
with the shared timeout and retry policy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.common.policies import DEFAULT_ACTIVITY_TIMEOUT, DEFAULT_RETRY
from workflows.common.queues import sibling_queue

T = TypeVar("T")


async def call_activity(
    name: str,
    arg: Any,
    *,
    service: str,
    result_type: type[T],
    start_to_close: timedelta = DEFAULT_ACTIVITY_TIMEOUT,
    retry_policy: RetryPolicy = DEFAULT_RETRY,
) -> T:
    """Run activity ``name`` on ``<prefix>-<service>`` and return its typed result."""
    return await workflow.execute_activity(  # type: ignore[no-any-return]
        name,
        arg,
        task_queue=sibling_queue(service),
        result_type=result_type,
        start_to_close_timeout=start_to_close,
        retry_policy=retry_policy,
    )
