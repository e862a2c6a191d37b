"""Task-queue names, derived inside workflows from the workflow's own queue (deterministic)."""

from __future__ import annotations

from temporalio import workflow


def sibling_queue(service: str) -> str:
    """``<prefix>-<service>`` with the prefix of the queue this workflow runs on.

    Workflows cannot read settings (determinism), but a workflow on ``adx-auth`` knows its
    prefix ``adx``; tests run whole stacks under a unique prefix this way.
    """
    own = workflow.info().task_queue
    prefix = own.rsplit("-", 1)[0]
    return f"{prefix}-{service}"
