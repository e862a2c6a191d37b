"""The workflow service's HTTP contract for run management (``/runs``): request and response
models, pydantic only. The routes declare them, the gateway validates the answers with them and
builds its GraphQL types from them field for field (docs/workflows.md)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from workflows.compliance.contracts import TenantAction as ErasureTenantAction
from workflows.reconciliation.contracts import MAX_BATCH as MAX_RECONCILIATION_BATCH
from workflows.reconciliation.contracts import Copy as ReconciliationCopy
from workflows.reconciliation.contracts import Mode as ReconciliationMode

#: A workflow type name as ADX names them (``user_registration``): no quotes, no spaces, so it
#: can never change the meaning of a visibility query it is put into.
WORKFLOW_TYPE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$"
#: A workflow id as a path segment: no spaces, quotes, slashes or backslashes, 1-255 long.
WORKFLOW_ID_PATTERN = r"^[^\s'\"\\/]{1,255}$"
MAX_PAGE = 100
#: An opaque cursor (base64url of Temporal's next page token).
MAX_CURSOR = 4096
MAX_REASON = 500

WorkflowType = Annotated[str, Field(pattern=WORKFLOW_TYPE_PATTERN)]
Reason = Annotated[str, Field(min_length=1, max_length=MAX_REASON)]


class RunStatus(StrEnum):
    """A run's status, spelled as GraphQL's ``WorkflowStatus``."""

    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    TERMINATED = "TERMINATED"
    CONTINUED_AS_NEW = "CONTINUED_AS_NEW"
    TIMED_OUT = "TIMED_OUT"


class RunSummary(BaseModel):
    """One run as the visibility store lists it."""

    workflow_id: str
    run_id: str
    type: str
    status: RunStatus
    task_queue: str
    start_time: datetime | None = None
    close_time: datetime | None = None
    history_length: int = 0
    #: The ADX search attributes (services/common/search_attributes.py).
    tenant_id: str | None = None
    user_id: str | None = None


class RunPage(BaseModel):
    runs: list[RunSummary]
    #: Pass as ``after`` for the next page; None on the last one.
    next_cursor: str | None = None


class StatusCount(BaseModel):
    status: RunStatus
    count: int


class RunCount(BaseModel):
    total: int
    by_status: list[StatusCount]


class RunProgress(BaseModel):
    """The ``progress`` query's answer (workflows/common/progress.py)."""

    step: int
    total: int
    label: str
    percent: int
    state: str


class PendingActivity(BaseModel):
    activity_id: str
    type: str
    state: str
    attempt: int
    maximum_attempts: int
    last_failure: str | None = None
    last_attempt_time: datetime | None = None
    next_attempt_time: datetime | None = None
    last_heartbeat_time: datetime | None = None


class ChildRun(BaseModel):
    workflow_id: str
    run_id: str
    type: str
    status: RunStatus | None = None


class RunDetails(RunSummary):
    """``GET /runs/{workflow_id}``: the run, its progress, pending work and links."""

    progress: RunProgress | None = None
    pending_activities: list[PendingActivity] = Field(default_factory=list)
    children: list[ChildRun] = Field(default_factory=list)
    parent_workflow_id: str | None = None
    parent_run_id: str | None = None
    #: The run this one retries (``POST /runs/{id}/retry``), from its memo.
    retry_of: str | None = None
    #: Whether ``input``/``result``/``failure`` were shown: only to operators and to callers
    #: holding ``workflows.manage`` in the run's tenant (docs/workflows.md).
    payloads_visible: bool = False
    input: list[Any] | None = None
    result: Any | None = None
    failure: str | None = None


class StackTrace(BaseModel):
    workflow_id: str
    run_id: str
    stack_trace: str


class ActionReason(BaseModel):
    """Why an action is taken (kept in the audit log)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=MAX_REASON)


class TerminateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class RunAction(StrEnum):
    CANCEL = "cancel"
    TERMINATE = "terminate"
    RETRY = "retry"
    RESET = "reset"


class ActionResult(BaseModel):
    """What an action did: on ``retry`` the new run (another workflow id), on ``reset`` the
    new run of the same workflow id."""

    action: RunAction
    workflow_id: str
    run_id: str
    new_workflow_id: str | None = None
    new_run_id: str | None = None


class RunFilter(BaseModel):
    """The filters of ``GET /runs`` as a body (batch operations)."""

    model_config = ConfigDict(extra="forbid")

    type: WorkflowType | None = None
    status: RunStatus | None = None
    tenant_id: str | None = Field(None, max_length=64)
    user_id: str | None = Field(None, max_length=64)
    since: datetime | None = None
    until: datetime | None = None


class BatchAction(StrEnum):
    CANCEL = "cancel"
    RETRY = "retry"


class BatchRequest(BaseModel):
    """Cancel the running (or retry the failed) runs matching ``filter``, at most ``limit``."""

    model_config = ConfigDict(extra="forbid")

    action: BatchAction
    filter: RunFilter = Field(default_factory=RunFilter)
    reason: Reason
    limit: int = Field(50, ge=1, le=MAX_PAGE)


class BatchItem(BaseModel):
    workflow_id: str
    run_id: str
    ok: bool
    new_workflow_id: str | None = None
    error: str | None = None


class BatchResult(BaseModel):
    action: BatchAction
    matched: int
    succeeded: int
    items: list[BatchItem]


class FailureReason(BaseModel):
    reason: str
    count: int


class TypeInsight(BaseModel):
    type: str
    total: int
    by_status: list[StatusCount]
    #: Durations of closed runs in the window (a bounded sample), seconds.
    sampled_runs: int
    duration_p50_seconds: float | None = None
    duration_p95_seconds: float | None = None
    top_failures: list[FailureReason] = Field(default_factory=list)


class Insights(BaseModel):
    window_seconds: int
    since: datetime
    types: list[TypeInsight]


# --- data reconciliation (``POST /reconciliation/runs``, workflows/reconciliation/) ----------


class ReconciliationRequest(BaseModel):
    """An operator's ``data_migration`` run over one tenant, or over every tenant
    (``all_tenants``, no ``tenant_id``) (docs/workflows.md)."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: uuid.UUID | None = None
    all_tenants: bool = False
    mode: ReconciliationMode = ReconciliationMode.DRY_RUN
    #: Copy names (``workflows.reconciliation.contracts.Copy``); empty: all of them.
    copies: list[ReconciliationCopy] = Field(default_factory=list, max_length=10)
    batch_size: StrictInt = Field(default=100, ge=1, le=MAX_RECONCILIATION_BATCH)

    @model_validator(mode="after")
    def _one_scope(self) -> ReconciliationRequest:
        if (self.tenant_id is None) != self.all_tenants:
            raise ValueError("name a tenant_id, or all_tenants: true (not both)")
        return self


class ReconciliationStarted(BaseModel):
    workflow_id: str
    run_id: str


# --- GDPR procedures (docs/workflows.md, "GDPR procedures") -----------------------------------


class ComplianceStarted(BaseModel):
    """A GDPR export or erasure run started (or the one already running, for an erasure)."""

    workflow_id: str
    run_id: str


class ErasureRequest(BaseModel):
    """The person's own erasure: ``confirm`` must be true (nobody else can be named)."""

    model_config = ConfigDict(extra="forbid")

    confirm: bool


class ErasureCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=MAX_REASON)


class ErasureCancelled(BaseModel):
    cancelled: bool


class TenantDecisionIn(BaseModel):
    """A tenant the person alone owns: ``transfer`` to a member (``new_owner_id``), or
    ``delete`` it (no new owner) once the grace period is over."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: uuid.UUID
    action: ErasureTenantAction = ErasureTenantAction.TRANSFER
    new_owner_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _owner_for_a_transfer(self) -> TenantDecisionIn:
        if self.action == ErasureTenantAction.TRANSFER and self.new_owner_id is None:
            raise ValueError("a transfer names the new owner")
        if self.action == ErasureTenantAction.DELETE and self.new_owner_id is not None:
            raise ValueError("a deletion names no new owner")
        return self


class ErasureDecisions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decisions: list[TenantDecisionIn] = Field(min_length=1, max_length=100)


class ErasureDecided(BaseModel):
    waiting: list[str]
    refused: list[str]


class ErasureStatus(BaseModel):
    workflow_id: str
    phase: str
    waiting_for_tenants: list[str]
    grace_ends_at: int
    cancellable: bool
    #: Tenants chosen for deletion (deleted when the grace period is over).
    deleting_tenants: list[str] = []


class ReceiptCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receipt: str = Field(max_length=200_000)
    key_id: str = Field(max_length=100)
    signature: str = Field(max_length=200)


class ReceiptVerdict(BaseModel):
    valid: bool
