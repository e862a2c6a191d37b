"""GraphQL types of workflow runs: what a mutation started and how far it got, and run
management (the workflow service's ``/runs``, docs/workflows.md), built from its response
models (``services/workflow/schemas.py``) field for field."""

from __future__ import annotations

import re
from datetime import datetime
from enum import Enum
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from schema.errors import BAD_USER_INPUT, UserFacingError
from schema.pagination import PageInfo
from services.common.settings import ServiceName
from services.workflow.schemas import (
    MAX_REASON,
    WORKFLOW_TYPE_PATTERN,
    ActionResult,
    BatchItem,
    BatchResult,
    ChildRun,
    FailureReason,
    Insights,
    PendingActivity,
    RunDetails,
    RunSummary,
    StackTrace,
    StatusCount,
    TypeInsight,
)

#: The longest id a filter takes (the service's ``IdFilter``), and a workflow id (a path part).
MAX_FILTER_ID = 64
MAX_WORKFLOW_ID = 255


@strawberry.enum(description="Lifecycle state of a workflow run.")
class WorkflowStatus(Enum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    TERMINATED = "TERMINATED"
    CONTINUED_AS_NEW = "CONTINUED_AS_NEW"
    TIMED_OUT = "TIMED_OUT"


@strawberry.type(description="Where a workflow is, as reported by its `progress` query.")
class WorkflowProgress:
    step: int
    total: int
    label: str
    percent: int
    state: str


def workflow_service(info: strawberry.Info) -> Any:
    """Calls to the workflow service (a ``ServiceCall``, of the request context: a layer above
    this one) for this request's signed-in caller; it decides what the caller may see: their
    tenant's runs, their own, or all for an operator."""
    return info.context.service(ServiceName.workflow, signed_in=True)


@strawberry.experimental.pydantic.type(model=PendingActivity, all_fields=True)
class PendingWorkflowActivity:
    """An activity the run waits on: its attempt, last failure and next retry."""


@strawberry.experimental.pydantic.type(model=ChildRun, all_fields=True)
class ChildWorkflowRun:
    workflow_id: strawberry.ID
    status: WorkflowStatus | None


@strawberry.experimental.pydantic.type(model=RunDetails, all_fields=True)
class WorkflowRunDetails:
    """The workflow service's ``RunDetails``: ``input``, ``result`` and ``failure`` are shown
    (``payloadsVisible``) to operators and to holders of ``workflows.manage`` in the run's
    tenant only. ``stackTrace`` and ``history`` are one more call each: ask only when needed."""

    workflow_id: strawberry.ID
    status: WorkflowStatus
    progress: WorkflowProgress | None
    input: JSON | None
    result: JSON | None
    pending_activities: list[PendingWorkflowActivity]
    children: list[ChildWorkflowRun]

    @strawberry.field(
        description="Where a running run waits (its `__stack_trace`); an error for a closed run."
    )
    async def stack_trace(self, info: strawberry.Info) -> str:
        answer = await workflow_service(info).call(
            "GET", f"/runs/{self.workflow_id}/stack-trace", response=StackTrace
        )
        return answer.stack_trace

    @strawberry.field(
        description="The latest run's history as Temporal JSON (`WorkflowHistory.from_json` "
        "reads it, a `Replayer` replays it; payloads stay encrypted). Needs workflows.manage."
    )
    async def history(self, info: strawberry.Info) -> JSON:
        history = await workflow_service(info).call(
            "GET", f"/runs/{self.workflow_id}/history", response=dict[str, Any]
        )
        return cast(JSON, history)


def details_of(row: RunDetails) -> WorkflowRunDetails:
    # (a pydantic type keeps no methods of its own: the builders live beside it)
    values = row.model_dump()
    values["progress"] = WorkflowProgress(**values["progress"]) if row.progress else None
    values["pending_activities"] = [
        PendingWorkflowActivity(**a.model_dump()) for a in row.pending_activities
    ]
    values["children"] = [ChildWorkflowRun(**c.model_dump()) for c in row.children]
    return WorkflowRunDetails(**values)


@strawberry.type(description="A workflow started by a mutation; follow it with `workflowProgress`.")
class WorkflowRun:
    id: strawberry.ID
    type: str
    status: WorkflowStatus
    result: JSON | None = None
    error: str | None = None
    access_token: str | None = strawberry.field(
        default=None,
        description="Only from the mutation that started the run: pass it to `workflowRun` and "
        "`workflowProgress` to follow the run without signing in.",
    )
    #: The details when they were read already (a run found through the workflow service).
    known_details: strawberry.Private[RunDetails | None] = None
    #: The progress when it was read already (every run but one answered from its start).
    known_progress: strawberry.Private[WorkflowProgress | None] = None
    #: A run answered from its start (a mutation's): its run id; its progress is read only
    #: when the operation asks for it.
    started_run_id: strawberry.Private[str | None] = None

    @strawberry.field(description="Where the run is, as its `progress` query reports it.")
    async def progress(self, info: strawberry.Info) -> WorkflowProgress | None:
        if self.started_run_id is None:
            return self.known_progress
        # the request context's relay (a layer above this one): the started run's query
        value = await info.context.state.relay.progress_of(self.id, self.started_run_id)
        return WorkflowProgress(**value) if value else None

    @classmethod
    def started(cls, workflow_id: str, type: str, run_id: str, access_token: str) -> WorkflowRun:
        """A run as its start answered it: running, nothing read back from Temporal."""
        return cls(
            id=strawberry.ID(workflow_id),
            type=type,
            status=WorkflowStatus.RUNNING,
            access_token=access_token,
            started_run_id=run_id,
        )

    @strawberry.field(
        description="The run as the workflow service shows it to you (signed in): pending "
        "activities, children, history length, input and result where you may see them."
    )
    async def details(self, info: strawberry.Info) -> WorkflowRunDetails:
        if self.known_details is not None:
            return details_of(self.known_details)
        row = await workflow_service(info).call("GET", f"/runs/{self.id}", response=RunDetails)
        return details_of(row)

    @classmethod
    def from_state(cls, state: Any) -> WorkflowRun:
        """Build from a relay ``RunState``."""
        return cls(
            id=strawberry.ID(state.id),
            type=state.type,
            status=WorkflowStatus(state.status),
            known_progress=WorkflowProgress(**state.progress) if state.progress else None,
            result=state.result,
            error=state.error,
        )

    @classmethod
    def from_details(cls, row: RunDetails) -> WorkflowRun:
        """Build from the workflow service's ``RunDetails`` (result and error where shown)."""
        return cls(
            id=strawberry.ID(row.workflow_id),
            type=row.type,
            status=WorkflowStatus(row.status.value),
            known_progress=(
                WorkflowProgress(**row.progress.model_dump()) if row.progress else None
            ),
            result=row.result,
            error=row.failure,
            known_details=row,
        )


@strawberry.experimental.pydantic.type(model=RunSummary, all_fields=True)
class WorkflowRunSummary:
    """One run as the workflow service lists it (its ``RunSummary``)."""

    workflow_id: strawberry.ID
    status: WorkflowStatus


def summary_of(row: RunSummary) -> WorkflowRunSummary:
    return WorkflowRunSummary(**row.model_dump())


@strawberry.type
class WorkflowRunEdge:
    cursor: str
    node: WorkflowRunSummary


@strawberry.type(description="A page of workflow runs you may see, newest first.")
class WorkflowRunConnection:
    edges: list[WorkflowRunEdge]
    page_info: PageInfo


def _checked(value: str | None, what: str, limit: int) -> str | None:
    if value is not None and not 0 < len(value) <= limit:
        raise UserFacingError(f"{what} must be 1-{limit} characters", BAD_USER_INPUT)
    return value


@strawberry.input(
    description="Which runs: every field narrows the list (all within what you may see)."
)
class WorkflowRunFilter:
    type: str | None = strawberry.field(
        default=None, description=f"A workflow type name ({WORKFLOW_TYPE_PATTERN})."
    )
    status: WorkflowStatus | None = None
    tenant_id: strawberry.ID | None = None
    user_id: strawberry.ID | None = None
    since: datetime | None = strawberry.field(default=None, description="Started at or after.")
    until: datetime | None = strawberry.field(default=None, description="Started before.")

    def params(self) -> dict[str, Any]:
        """The filter as the service's ``RunFilter`` fields, checked before anything is sent
        (a hostile value is a ``BAD_USER_INPUT`` that does not echo it)."""
        if self.type is not None and (
            len(self.type) > 100 or re.fullmatch(WORKFLOW_TYPE_PATTERN, self.type) is None
        ):
            raise UserFacingError(f"type must match {WORKFLOW_TYPE_PATTERN}", BAD_USER_INPUT)
        values: dict[str, Any] = {
            "type": self.type,
            "status": self.status.value if self.status else None,
            "tenant_id": _checked(self.tenant_id, "tenantId", MAX_FILTER_ID),
            "user_id": _checked(self.user_id, "userId", MAX_FILTER_ID),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }
        return {k: v for k, v in values.items() if v is not None}


def checked_reason(reason: str | None) -> str | None:
    return _checked(reason, "reason", MAX_REASON)


def checked_workflow_id(raw: str) -> str:
    """A workflow id before it becomes a path part: 1-255 characters, no spaces, quotes,
    slashes or backslashes (the service's ``WORKFLOW_ID_PATTERN``)."""
    if not 0 < len(raw) <= MAX_WORKFLOW_ID or any(c.isspace() or c in "'\"\\/" for c in raw):
        raise UserFacingError("not a valid workflow id", BAD_USER_INPUT)
    return raw


@strawberry.enum(description="What an action did.")
class WorkflowRunActionKind(Enum):
    CANCEL = "cancel"
    TERMINATE = "terminate"
    RETRY = "retry"
    RESET = "reset"


@strawberry.experimental.pydantic.type(model=ActionResult, all_fields=True)
class WorkflowRunAction:
    """What an action did (the service's ``ActionResult``): ``retry`` names the new run
    (another workflow id, linked to this one), ``reset`` the new run of the same id."""

    action: WorkflowRunActionKind
    workflow_id: strawberry.ID
    new_workflow_id: strawberry.ID | None


def action_of(row: ActionResult) -> WorkflowRunAction:
    return WorkflowRunAction(**{**row.model_dump(), "action": WorkflowRunActionKind(row.action)})


@strawberry.enum(description="What a batch does to the runs its filter matches.")
class WorkflowBatchAction(Enum):
    CANCEL = "cancel"
    RETRY = "retry"


@strawberry.input(description="Cancel the running, or retry the failed, runs of `filter`.")
class WorkflowBatchInput:
    action: WorkflowBatchAction
    reason: str
    filter: WorkflowRunFilter | None = None
    limit: int = strawberry.field(default=50, description="1-100 runs at most.")


@strawberry.experimental.pydantic.type(model=BatchItem, all_fields=True)
class WorkflowBatchItem:
    workflow_id: strawberry.ID


@strawberry.experimental.pydantic.type(model=BatchResult, all_fields=True)
class WorkflowBatchResult:
    """What a batch did, run by run (one refusal does not stop the batch)."""

    action: WorkflowBatchAction
    items: list[WorkflowBatchItem]


def batch_of(row: BatchResult) -> WorkflowBatchResult:
    return WorkflowBatchResult(
        **{
            **row.model_dump(),
            "action": WorkflowBatchAction(row.action.value),
            "items": [WorkflowBatchItem(**i.model_dump()) for i in row.items],
        }
    )


@strawberry.experimental.pydantic.type(model=StatusCount, all_fields=True)
class WorkflowStatusCount:
    status: WorkflowStatus


@strawberry.experimental.pydantic.type(model=FailureReason, all_fields=True)
class WorkflowFailureReason:
    """A stable failure name (an error type, never a message) and how often it was seen."""


@strawberry.experimental.pydantic.type(model=TypeInsight, all_fields=True)
class WorkflowTypeInsight:
    by_status: list[WorkflowStatusCount]
    top_failures: list[WorkflowFailureReason]


@strawberry.experimental.pydantic.type(model=Insights, all_fields=True)
class WorkflowInsights:
    """Per workflow type over the window: counts by status, duration p50/p95 (of a bounded
    sample of closed runs), the top failure reasons; within what you may see."""

    types: list[WorkflowTypeInsight]


def insights_of(row: Insights) -> WorkflowInsights:
    types = [
        WorkflowTypeInsight(
            **{
                **t.model_dump(),
                "by_status": [WorkflowStatusCount(**s.model_dump()) for s in t.by_status],
                "top_failures": [WorkflowFailureReason(**f.model_dump()) for f in t.top_failures],
            }
        )
        for t in row.types
    ]
    return WorkflowInsights(**{**row.model_dump(), "types": types})
