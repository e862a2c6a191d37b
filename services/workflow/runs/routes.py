"""Run management (``/runs``, docs/workflows.md): list, count, describe, stack trace, history,
insights; cancel, terminate, retry, reset and batch operations, each audited.

Direct (no workflow): every route reads or acts on Temporal itself, for the caller's scope
(``services/workflow/runs/scope.py``): a run outside it answers the 404 of a run that does not
exist, on every route."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from services.common.app import ResourcesDep
from services.common.errors import ForbiddenError
from services.common.principal import PrincipalDep
from services.common.resources import Resources
from services.common.sealing import sealer_for
from services.common.tokens import Principal
from services.workflow.runs import audit, operations
from services.workflow.runs.insights import InsightMetrics, insights
from services.workflow.runs.scope import Scope, filter_query, not_found
from services.workflow.schemas import (
    MAX_CURSOR,
    MAX_PAGE,
    WORKFLOW_ID_PATTERN,
    WORKFLOW_TYPE_PATTERN,
    ActionReason,
    ActionResult,
    BatchAction,
    BatchItem,
    BatchRequest,
    BatchResult,
    Insights,
    RunAction,
    RunCount,
    RunDetails,
    RunFilter,
    RunPage,
    RunStatus,
    StackTrace,
    TerminateRequest,
)

router = APIRouter(prefix="/runs", tags=["runs"])

WorkflowId = Annotated[str, Path(pattern=WORKFLOW_ID_PATTERN, max_length=255)]
IdFilter = Annotated[str | None, Query(max_length=64)]
MAX_WINDOW_SECONDS = 30 * 86400


def scope_of(principal: Principal, resources: Resources) -> Scope:
    return Scope.of(principal, resources.settings)


def run_filter(
    type: Annotated[str | None, Query(pattern=WORKFLOW_TYPE_PATTERN, max_length=100)] = None,
    status: RunStatus | None = None,
    tenant_id: IdFilter = None,
    user_id: IdFilter = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> RunFilter:
    return RunFilter(
        type=type, status=status, tenant_id=tenant_id, user_id=user_id, since=since, until=until
    )


@router.get("")
async def list_runs(
    principal: PrincipalDep,
    resources: ResourcesDep,
    type: Annotated[str | None, Query(pattern=WORKFLOW_TYPE_PATTERN, max_length=100)] = None,
    status: RunStatus | None = None,
    tenant_id: IdFilter = None,
    user_id: IdFilter = None,
    since: datetime | None = None,
    until: datetime | None = None,
    first: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    after: Annotated[str | None, Query(min_length=1, max_length=MAX_CURSOR)] = None,
) -> RunPage:
    """Runs the caller may see, newest first, ``first`` at a time (``after``: the previous
    page's ``next_cursor``)."""
    query = filter_query(
        scope_of(principal, resources),
        run_filter(type, status, tenant_id, user_id, since, until),
    )
    return await operations.list_page(
        resources.temporal, sealer_for(resources.settings), query, first, after
    )


@router.get("/count")
async def count_runs(
    principal: PrincipalDep,
    resources: ResourcesDep,
    type: Annotated[str | None, Query(pattern=WORKFLOW_TYPE_PATTERN, max_length=100)] = None,
    status: RunStatus | None = None,
    tenant_id: IdFilter = None,
    user_id: IdFilter = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> RunCount:
    query = filter_query(
        scope_of(principal, resources),
        run_filter(type, status, tenant_id, user_id, since, until),
    )
    total, by_status = await operations.count(resources.temporal, query)
    return RunCount(total=total, by_status=by_status)


@router.get("/insights")
async def run_insights(
    request: Request,
    principal: PrincipalDep,
    resources: ResourcesDep,
    window: Annotated[int, Query(ge=60, le=MAX_WINDOW_SECONDS)] = 3600,
) -> Insights:
    """Per workflow type: counts by status, duration p50/p95, top failure reasons, over the
    last ``window`` seconds, within the caller's scope."""
    scope = scope_of(principal, resources)
    answer = await insights(resources.temporal, scope, window)
    metrics: InsightMetrics | None = getattr(request.app.state, "insight_metrics", None)
    if scope.operator and metrics is not None:
        metrics.latest = answer
    return answer


@router.get("/audit")
async def audit_log(
    principal: PrincipalDep,
    resources: ResourcesDep,
    first: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> list[dict[str, str]]:
    """The newest audit entries (operators only)."""
    if not scope_of(principal, resources).operator:
        raise ForbiddenError("the audit log is for operators")
    return await audit.recent(resources, first)


@router.post("/batch")
async def batch(
    body: BatchRequest, principal: PrincipalDep, resources: ResourcesDep
) -> BatchResult:
    """Cancel the running, or retry the failed, runs matching ``filter`` (within the caller's
    scope), at most ``limit`` (and ``ADX_WORKFLOW_BATCH_MAX_RUNS``), paced at
    ``ADX_WORKFLOW_BATCH_RATE_PER_SECOND``."""
    scope = scope_of(principal, resources)
    if not (scope.operator or scope.can_manage_tenant):
        raise ForbiddenError("this needs the workflows.manage permission")
    settings = resources.settings
    wanted = (
        RunStatus.RUNNING
        if body.action == BatchAction.CANCEL
        else body.filter.status
        if body.filter.status in operations.RETRYABLE
        else RunStatus.FAILED
    )
    query = filter_query(scope, body.filter.model_copy(update={"status": wanted}), extra=None)
    limit = min(body.limit, settings.workflow_batch_max_runs)
    page = await operations.list_page(
        resources.temporal, sealer_for(resources.settings), query, limit, None
    )
    items: list[BatchItem] = []
    client = resources.temporal
    async with operations.paced(settings.workflow_batch_rate_per_second) as pace:
        for run in page.runs[:limit]:
            await pace()
            item = BatchItem(workflow_id=run.workflow_id, run_id=run.run_id, ok=False)
            try:
                description = await operations.manageable(client, scope, run.workflow_id)
                if description.run_id != run.run_id:
                    raise not_found(run.workflow_id)  # a newer run since the listing
                if body.action == BatchAction.CANCEL:
                    await operations.cancel(client, description)
                else:
                    new_id, _ = await operations.retry(client, principal, description)
                    item.new_workflow_id = new_id
                item.ok = True
            except Exception as error:  # one run's refusal does not stop the batch
                item.error = str(error)[:200] or type(error).__name__
            await audit.record(
                resources,
                principal,
                f"batch_{body.action.value}",
                workflow_id=run.workflow_id,
                run_id=run.run_id,
                reason=body.reason,
                outcome="ok" if item.ok else "refused",
                new_workflow_id=item.new_workflow_id,
            )
            items.append(item)
    return BatchResult(
        action=body.action,
        matched=len(page.runs),
        succeeded=sum(1 for i in items if i.ok),
        items=items,
    )


@router.get("/{workflow_id}")
async def describe_run(
    workflow_id: WorkflowId, principal: PrincipalDep, resources: ResourcesDep
) -> RunDetails:
    return await operations.describe(
        resources.temporal, scope_of(principal, resources), workflow_id
    )


@router.get("/{workflow_id}/stack-trace")
async def run_stack_trace(
    workflow_id: WorkflowId, principal: PrincipalDep, resources: ResourcesDep
) -> StackTrace:
    """Where a running workflow waits (its ``__stack_trace`` query): for a stuck run."""
    run_id, trace = await operations.stack_trace(
        resources.temporal, scope_of(principal, resources), workflow_id
    )
    return StackTrace(workflow_id=workflow_id, run_id=run_id, stack_trace=trace)


@router.get("/{workflow_id}/history")
async def run_history(
    workflow_id: WorkflowId, principal: PrincipalDep, resources: ResourcesDep
) -> dict[str, Any]:
    """The latest run's history as Temporal JSON (``WorkflowHistory.from_json`` reads it, a
    ``Replayer`` replays it); payloads stay encrypted. Managers only."""
    return await operations.history_json(
        resources.temporal, scope_of(principal, resources), workflow_id
    )


async def _acted(
    resources: Resources,
    principal: Principal,
    action: RunAction,
    workflow_id: str,
    run_id: str,
    reason: str | None,
    *,
    new_workflow_id: str | None = None,
    new_run_id: str | None = None,
) -> ActionResult:
    await audit.record(
        resources,
        principal,
        action.value,
        workflow_id=workflow_id,
        run_id=run_id,
        reason=reason,
        new_workflow_id=new_workflow_id,
        new_run_id=new_run_id,
    )
    return ActionResult(
        action=action,
        workflow_id=workflow_id,
        run_id=run_id,
        new_workflow_id=new_workflow_id,
        new_run_id=new_run_id,
    )


@router.post("/{workflow_id}/cancel")
async def cancel_run(
    workflow_id: WorkflowId,
    principal: PrincipalDep,
    resources: ResourcesDep,
    body: ActionReason | None = None,
) -> ActionResult:
    """Ask the run to cancel (graceful: it runs its compensations)."""
    scope = scope_of(principal, resources)
    description = await operations.manageable(resources.temporal, scope, workflow_id)
    await operations.cancel(resources.temporal, description)
    reason = body.reason if body else None
    return await _acted(
        resources, principal, RunAction.CANCEL, workflow_id, description.run_id, reason
    )


@router.post("/{workflow_id}/terminate")
async def terminate_run(
    workflow_id: WorkflowId,
    body: TerminateRequest,
    principal: PrincipalDep,
    resources: ResourcesDep,
) -> ActionResult:
    """End the run at once, without compensation: operators only, with a reason."""
    scope = scope_of(principal, resources)
    description = await operations.visible_description(resources.temporal, scope, workflow_id)
    if not scope.operator:
        raise ForbiddenError("only operators terminate a run")
    await operations.terminate(resources.temporal, description, body.reason)
    return await _acted(
        resources, principal, RunAction.TERMINATE, workflow_id, description.run_id, body.reason
    )


@router.post("/{workflow_id}/retry")
async def retry_run(
    workflow_id: WorkflowId,
    principal: PrincipalDep,
    resources: ResourcesDep,
    body: ActionReason | None = None,
) -> ActionResult:
    """Start a failed (timed-out, terminated, cancelled) run again with the same input under a
    new workflow id, linked to this run by its ``adx_retry_of`` memo."""
    scope = scope_of(principal, resources)
    description = await operations.manageable(resources.temporal, scope, workflow_id)
    new_id, new_run = await operations.retry(resources.temporal, principal, description)
    return await _acted(
        resources,
        principal,
        RunAction.RETRY,
        workflow_id,
        description.run_id,
        body.reason if body else None,
        new_workflow_id=new_id,
        new_run_id=new_run,
    )


@router.post("/{workflow_id}/reset")
async def reset_run(
    workflow_id: WorkflowId,
    principal: PrincipalDep,
    resources: ResourcesDep,
    body: ActionReason | None = None,
) -> ActionResult:
    """Reset the run to its last completed workflow task: a new run of the same id replays up
    to there and goes on from it."""
    scope = scope_of(principal, resources)
    description = await operations.manageable(resources.temporal, scope, workflow_id)
    reason = (body.reason if body else None) or f"reset by {principal.user_id}"
    new_run = await operations.reset(resources.temporal, description, reason)
    return await _acted(
        resources,
        principal,
        RunAction.RESET,
        workflow_id,
        description.run_id,
        reason,
        new_workflow_id=workflow_id,
        new_run_id=new_run,
    )
