"""Workflow runs' root fields: a run's state, and its progress as a subscription."""

from __future__ import annotations

import strawberry

from resolvers.workflow_runs import resolve_workflow_run, subscribe_workflow_progress
from schema.workflow_runs import WorkflowRun


@strawberry.type
class WorkflowRunQuery:
    workflow_run: WorkflowRun = strawberry.field(
        resolver=resolve_workflow_run, description="A workflow run's current state."
    )


@strawberry.type
class WorkflowRunSubscription:
    workflow_progress: WorkflowRun = strawberry.subscription(  # type: ignore[assignment]
        resolver=subscribe_workflow_progress,
        description="Progress of a workflow run until it completes, fails or is cancelled.",
    )
