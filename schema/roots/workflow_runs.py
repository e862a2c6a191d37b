"""Workflow runs' root fields: a run's state and its progress as a subscription; run management
(list, insights, cancel, retry, reset, batch) through the workflow service
(``resolvers/workflow_runs.py`` says which call is which)."""

from __future__ import annotations

import strawberry

from resolvers.workflow_runs import (
    resolve_batch_workflow_operation,
    resolve_cancel_workflow_run,
    resolve_reset_workflow_run,
    resolve_retry_workflow_run,
    resolve_workflow_insights,
    resolve_workflow_run,
    resolve_workflow_runs,
    subscribe_workflow_progress,
)
from schema.workflow_runs import (
    WorkflowBatchResult,
    WorkflowInsights,
    WorkflowRun,
    WorkflowRunAction,
    WorkflowRunConnection,
)


@strawberry.type
class WorkflowRunQuery:
    workflow_run: WorkflowRun = strawberry.field(
        resolver=resolve_workflow_run,
        description="A workflow run's current state (`details` for its pending work, children, "
        "stack trace and history).",
    )
    workflow_runs: WorkflowRunConnection = strawberry.field(
        resolver=resolve_workflow_runs,
        description="The runs you may see: your tenant's (workflows.read), the ones you started, "
        "or every tenant's for an operator; newest first.",
    )
    workflow_insights: WorkflowInsights = strawberry.field(
        resolver=resolve_workflow_insights,
        description="Per workflow type over a window: counts by status, duration p50/p95, top "
        "failure reasons (within what you may see).",
    )


@strawberry.type
class WorkflowRunMutation:
    cancel_workflow_run: WorkflowRunAction = strawberry.mutation(
        resolver=resolve_cancel_workflow_run,
        description="Ask a running run to cancel (graceful: it compensates). Needs "
        "workflows.manage in the run's tenant.",
    )
    retry_workflow_run: WorkflowRunAction = strawberry.mutation(
        resolver=resolve_retry_workflow_run,
        description="Start a failed (cancelled, terminated, timed-out) run again with the same "
        "input under a new id linked to it. Needs workflows.manage.",
    )
    reset_workflow_run: WorkflowRunAction = strawberry.mutation(
        resolver=resolve_reset_workflow_run,
        description="Reset a run to its last completed workflow task. Needs workflows.manage.",
    )
    batch_workflow_operation: WorkflowBatchResult = strawberry.mutation(
        resolver=resolve_batch_workflow_operation,
        description="Cancel the running, or retry the failed, runs of a filter (bounded, "
        "paced). Needs workflows.manage.",
    )


@strawberry.type
class WorkflowRunSubscription:
    workflow_progress: WorkflowRun = strawberry.subscription(  # type: ignore[assignment]
        resolver=subscribe_workflow_progress,
        description="Progress of a workflow run until it completes, fails or is cancelled.",
    )
