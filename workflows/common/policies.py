"""Activity options shared by workflows: timeouts and retry policies."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

DEFAULT_ACTIVITY_TIMEOUT = timedelta(seconds=30)

#: Infrastructure errors retry with back-off; business errors are raised non-retryable.
DEFAULT_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=10,
)
