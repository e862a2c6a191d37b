"""Workflow runs. A run followed by its access token or by the one who started it is read
through Temporal (describe + ``progress`` query, the relay's cache), its progress streamed by a
subscription fed from the Redis relay.

Run management goes through the workflow service's HTTP API (``/runs``, the owner of that
view: it scopes every answer to the caller, docs/workflows.md), never Temporal from here:

- ``workflowRuns``, ``workflowInsights`` and ``workflowRun``'s ``details`` (with its
  ``stackTrace`` and ``history``) are reads of the workflow service; ``workflowRun`` of a run the
  caller did not start is answered from there too (a run outside the caller's scope is the same
  ``NOT_FOUND`` as one that does not exist);
- ``cancelWorkflowRun``, ``retryWorkflowRun``, ``resetWorkflowRun`` and
  ``batchWorkflowOperation`` are the workflow service's own acts on Temporal (audited there),
  direct calls sent once (``resolvers/routing.py``).

The service's refusals become GraphQL errors by its row of ``REFUSALS``."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import strawberry
from temporalio.client import WorkflowExecutionDescription

from gateway.progress_relay import WorkflowNotFound, describe
from gateway.run_access import identify_run
from schema.errors import BAD_USER_INPUT, NOT_FOUND, UserFacingError
from schema.pagination import PageInfo, check_first
from schema.workflow_runs import (
    WorkflowBatchInput,
    WorkflowBatchResult,
    WorkflowInsights,
    WorkflowRun,
    WorkflowRunAction,
    WorkflowRunConnection,
    WorkflowRunEdge,
    WorkflowRunFilter,
    action_of,
    batch_of,
    checked_reason,
    checked_workflow_id,
    insights_of,
    summary_of,
)
from services.common.settings import ServiceName
from services.workflow.schemas import (
    MAX_CURSOR,
    MAX_PAGE,
    ActionResult,
    BatchResult,
    Insights,
    RunDetails,
    RunPage,
)

if TYPE_CHECKING:
    from gateway.context import GatewayContext
    from gateway.service_clients import ServiceCall

MAX_ID_LENGTH = 255


def _workflows(info: strawberry.Info[GatewayContext]) -> ServiceCall:
    """Calls to the workflow service for the signed-in caller (it scopes every answer)."""
    return info.context.service(ServiceName.workflow, signed_in=True)


def _check_id(workflow_id: str) -> str:
    if not 0 < len(workflow_id) <= MAX_ID_LENGTH:
        raise UserFacingError("workflow id must be 1-255 characters")
    return workflow_id


def _not_found(workflow_id: str) -> UserFacingError:
    return UserFacingError(f"workflow {workflow_id!r} not found", NOT_FOUND)


async def _followed(
    info: strawberry.Info[GatewayContext], workflow_id: str, access_token: str | None
) -> WorkflowExecutionDescription | None:
    """The run's description for its access token or its owner's session, else None. A
    refusal is always decided on a fresh ``describe``: a shared one (in flight, or the followed
    run's) may predate a new run under the same id that the token or session is for."""
    context = info.context
    for fresh in (False, True):
        try:
            description = await context.state.relay.describe(_check_id(workflow_id), fresh=fresh)
        except WorkflowNotFound as error:
            raise _not_found(workflow_id) from error
        run = await identify_run(description)
        if context.state.run_access.valid(run, access_token):
            return description
        principal = await context.optional_principal()
        if principal is not None and run.owner is not None and principal.user_id == run.owner:
            return description
    return None


async def run_of(
    info: strawberry.Info[GatewayContext],
    workflow_id: str,
    description: WorkflowExecutionDescription,
) -> WorkflowRun:
    """A closed run's state is read from Temporal once and cached (sealed) in Redis; a running
    one's reads are shared by concurrent callers (gateway/progress_relay.py)."""
    return WorkflowRun.from_state(
        await info.context.state.relay.run_state(workflow_id, description)
    )


class _Started(Protocol):
    """A service's answer to a route that started a workflow."""

    @property
    def workflow_id(self) -> str: ...


async def started_run(
    info: strawberry.Info[GatewayContext],
    service: ServiceName,
    method: str,
    path: str,
    *,
    response: type[_Started],
    body: Any = None,
    params: dict[str, str] | None = None,
    arguments: list[Any] | None = None,
) -> WorkflowRun:
    """Forward a write whose route starts a workflow, once per ``Idempotency-Key``
    (``arguments`` key it; by default the method, path and body), and answer its run with the
    run's access token, so the caller may follow it (``workflowRun``, ``workflowProgress``)."""

    async def start() -> str:
        started = await info.context.service(service, signed_in=True).call(
            method, path, json=body, params=params, response=response
        )
        return started.workflow_id

    key = [method, path, body] if arguments is None else arguments
    return await run_to_follow(info, await info.context.started_once(info, key, start))


async def run_to_follow(info: strawberry.Info[GatewayContext], workflow_id: str) -> WorkflowRun:
    """A run the caller's write just started, with its access token (``workflowRun``,
    ``workflowProgress``)."""
    state = info.context.state
    description = await describe(state.temporal, workflow_id)
    run = await run_of(info, workflow_id, description)
    run.access_token = state.run_access.token(await identify_run(description))
    return run


async def resolve_workflow_run(
    info: strawberry.Info[GatewayContext],
    id: strawberry.ID,
    access_token: str | None = None,
) -> WorkflowRun:
    """Its access token or its starter follow the run through the relay; anyone else signed in
    sees it as the workflow service shows it to them (a tenant's admin, an operator), or not
    at all (``NOT_FOUND``, as for a run that does not exist)."""
    description = await _followed(info, id, access_token)
    if description is not None:
        return await run_of(info, id, description)
    return WorkflowRun.from_details(await _in_scope(info, id))


async def _in_scope(info: strawberry.Info[GatewayContext], workflow_id: str) -> RunDetails:
    """The run as the workflow service shows it to the signed-in caller (their tenant's runs
    with ``workflows.read``, every run for an operator); ``NOT_FOUND`` outside their scope, the
    answer for a run that does not exist."""
    if info.context.authorization is None:
        raise _not_found(workflow_id)
    try:
        return await _workflows(info).call(
            "GET", f"/runs/{checked_workflow_id(workflow_id)}", response=RunDetails
        )
    except UserFacingError as error:
        if error.extensions and error.extensions.get("code") == NOT_FOUND:
            raise _not_found(workflow_id) from error
        raise


async def subscribe_workflow_progress(
    info: strawberry.Info[GatewayContext],
    id: strawberry.ID,
    access_token: str | None = None,
) -> AsyncGenerator[WorkflowRun, None]:
    """Every change of the run's progress, ending with its final status and result: for its
    access token, its starter, or anyone whose scope the workflow service shows it in (a
    tenant's admin with ``workflows.read``, an operator)."""
    state = info.context.state
    description = await _followed(info, id, access_token)
    if description is None:
        await _in_scope(info, id)
        try:
            description = await state.relay.describe(_check_id(id), fresh=True)
        except WorkflowNotFound as error:
            raise _not_found(id) from error
    try:
        async for run_state in state.relay.subscribe(
            id, state.settings.subscription_max_seconds, description
        ):
            yield WorkflowRun.from_state(run_state)
    except WorkflowNotFound as error:
        raise _not_found(id) from error


# -- run management: reads ---------------------------------------------------------------------


async def resolve_workflow_runs(
    info: strawberry.Info[GatewayContext],
    filter: WorkflowRunFilter | None = None,
    first: Annotated[int, strawberry.argument(description=f"1-{MAX_PAGE}")] = 20,
    after: str | None = None,
) -> WorkflowRunConnection:
    """The runs the caller may see (their tenant's with ``workflows.read``, their own, or all
    for an operator), newest first; the service's cursors are keyset cursors of a page's end."""
    check_first(first)
    params: dict[str, Any] = {"first": first, **(filter.params() if filter else {})}
    if after is not None:
        if not 0 < len(after) <= MAX_CURSOR:
            raise UserFacingError("after is not a cursor of this list", BAD_USER_INPUT)
        params["after"] = after
    page = await _workflows(info).call("GET", "/runs", params=params, response=RunPage)
    edges = [WorkflowRunEdge(cursor="", node=summary_of(run)) for run in page.runs]
    if edges and page.next_cursor is not None:
        edges[-1].cursor = page.next_cursor
    return WorkflowRunConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=page.next_cursor is not None, end_cursor=page.next_cursor),
    )


#: ``workflowInsights``' window bounds, seconds (the service's ``window`` query).
MIN_WINDOW, MAX_WINDOW = 60, 30 * 86400


async def resolve_workflow_insights(
    info: strawberry.Info[GatewayContext],
    window_seconds: Annotated[
        int, strawberry.argument(description=f"{MIN_WINDOW}-{MAX_WINDOW}")
    ] = 3600,
) -> WorkflowInsights:
    if not MIN_WINDOW <= window_seconds <= MAX_WINDOW:
        raise UserFacingError(f"windowSeconds must be {MIN_WINDOW}-{MAX_WINDOW}", BAD_USER_INPUT)
    row = await _workflows(info).call(
        "GET", "/runs/insights", params={"window": window_seconds}, response=Insights
    )
    return insights_of(row)


# -- run management: actions (direct: the workflow service acts and audits) --------------------


async def _act(
    info: strawberry.Info[GatewayContext], id: str, action: str, reason: str | None
) -> WorkflowRunAction:
    body = {"reason": checked_reason(reason)}
    answer = await _workflows(info).call(
        "POST", f"/runs/{checked_workflow_id(id)}/{action}", json=body, response=ActionResult
    )
    return action_of(answer)


async def resolve_cancel_workflow_run(
    info: strawberry.Info[GatewayContext], id: strawberry.ID, reason: str | None = None
) -> WorkflowRunAction:
    return await _act(info, id, "cancel", reason)


async def resolve_retry_workflow_run(
    info: strawberry.Info[GatewayContext], id: strawberry.ID, reason: str | None = None
) -> WorkflowRunAction:
    return await _act(info, id, "retry", reason)


async def resolve_reset_workflow_run(
    info: strawberry.Info[GatewayContext], id: strawberry.ID, reason: str | None = None
) -> WorkflowRunAction:
    return await _act(info, id, "reset", reason)


async def resolve_batch_workflow_operation(
    info: strawberry.Info[GatewayContext], input: WorkflowBatchInput
) -> WorkflowBatchResult:
    if not 1 <= input.limit <= MAX_PAGE:
        raise UserFacingError(f"limit must be 1-{MAX_PAGE}", BAD_USER_INPUT)
    if not input.reason:
        raise UserFacingError("a batch needs a reason", BAD_USER_INPUT)
    body = {
        "action": input.action.value,
        "reason": checked_reason(input.reason),
        "limit": input.limit,
        "filter": input.filter.params() if input.filter else {},
    }
    answer = await _workflows(info).call("POST", "/runs/batch", json=body, response=BatchResult)
    return batch_of(answer)
