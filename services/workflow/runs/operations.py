"""Reading and acting on workflow runs through Temporal, within a caller's :class:`Scope`.

Temporal's own failures are mapped once here (``workflow_calls.mapped``): a gone run is the
404 a hidden one gets, an unreachable Temporal a 503, a query Temporal refuses (a bad cursor)
a 422."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution as WorkflowExecutionProto
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHistoryEventFilterType,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.service import RPCError, RPCStatusCode

from services.common import search_attributes
from services.common.errors import ConflictError, InvalidInputError, ServiceUnavailableError
from services.common.sealing import Sealer, SealError
from services.common.security_context import SecurityContext, acting_as
from services.common.tokens import Principal
from services.common.workflow_calls import WorkflowErrors, mapped
from services.workflow.runs.scope import (
    STATUS_OF_VISIBILITY,
    Scope,
    literal,
    not_found,
)
from services.workflow.schemas import (
    MAX_CURSOR,
    ChildRun,
    PendingActivity,
    RunDetails,
    RunPage,
    RunProgress,
    RunStatus,
    RunSummary,
    StatusCount,
)

#: The memo key linking a retry to the run it retries (``<workflow id>/<run id>``).
RETRY_OF_MEMO = "adx_retry_of"
PROGRESS_QUERY = "progress"
STACK_TRACE_QUERY = "__stack_trace"
#: How long a run's worker gets to answer a query before the answer goes without it.
QUERY_SECONDS = 3.0
MAX_MESSAGE = 500
#: Children listed at most on a described run.
MAX_CHILDREN = 50

_STATUS = {
    WorkflowExecutionStatus.RUNNING: RunStatus.RUNNING,
    WorkflowExecutionStatus.COMPLETED: RunStatus.COMPLETED,
    WorkflowExecutionStatus.FAILED: RunStatus.FAILED,
    WorkflowExecutionStatus.CANCELED: RunStatus.CANCELED,
    WorkflowExecutionStatus.TERMINATED: RunStatus.TERMINATED,
    WorkflowExecutionStatus.CONTINUED_AS_NEW: RunStatus.CONTINUED_AS_NEW,
    WorkflowExecutionStatus.TIMED_OUT: RunStatus.TIMED_OUT,
}
#: Runs that may be started again with the same input.
RETRYABLE = frozenset(
    {RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.TERMINATED, RunStatus.CANCELED}
)


def errors_for(workflow_id: str, call: str) -> WorkflowErrors:
    return WorkflowErrors(
        call=call,
        unavailable="Temporal is unavailable; try again.",
        not_found=lambda: not_found(workflow_id),
    )


@contextmanager
def temporal_calls(workflow_id: str, call: str) -> Iterator[None]:
    """Temporal's failures as the answers of this service; a refused argument (a cursor that
    is not one, a query Temporal rejects) is a 422, never a 500."""
    try:
        with mapped(errors_for(workflow_id, call)):
            yield
    except ServiceUnavailableError as error:
        if _rpc_invalid(error.__cause__):
            raise InvalidInputError("Temporal refused the filter or the cursor") from error
        raise


def _rpc_invalid(error: BaseException | None) -> bool:
    return isinstance(error, RPCError) and error.status == RPCStatusCode.INVALID_ARGUMENT


def status_of(raw: WorkflowExecutionStatus | None) -> RunStatus:
    return _STATUS.get(raw, RunStatus.RUNNING) if raw is not None else RunStatus.RUNNING


def summary_of(execution: WorkflowExecution) -> RunSummary:
    values = search_attributes.adx_values(execution.typed_search_attributes)
    return RunSummary(
        workflow_id=execution.id,
        run_id=execution.run_id,
        type=execution.workflow_type,
        status=status_of(execution.status),
        task_queue=execution.task_queue,
        start_time=execution.start_time,
        close_time=execution.close_time,
        history_length=execution.history_length,
        tenant_id=values["tenant_id"],
        user_id=values["user_id"],
    )


# --- cursors ----------------------------------------------------------------------------------
#
# A cursor is Temporal's next page token sealed (services/common/sealing.py) for the query it
# pages through: Temporal answers a forged token with an error it retries for seconds, so only
# tokens this service handed out, for this very query, ever reach it.


def _cursor_purpose(query: str) -> str:
    return f"workflow-runs-cursor:{hashlib.sha256(query.encode()).hexdigest()[:32]}"


def encode_cursor(sealer: Sealer, token: bytes | None, query: str) -> str | None:
    if not token:
        return None
    return sealer.seal(base64.urlsafe_b64encode(token).decode(), _cursor_purpose(query))


def decode_cursor(sealer: Sealer, cursor: str | None, query: str) -> bytes | None:
    if cursor is None:
        return None
    if not 0 < len(cursor) <= MAX_CURSOR:
        raise InvalidInputError("after is not a cursor of this list")
    try:
        return base64.urlsafe_b64decode(sealer.unseal(cursor, _cursor_purpose(query)))
    except (SealError, binascii.Error, ValueError):
        raise InvalidInputError("after is not a cursor of this list") from None


# --- reads ------------------------------------------------------------------------------------


async def list_page(
    client: Client, sealer: Sealer, query: str, first: int, after: str | None
) -> RunPage:
    token = decode_cursor(sealer, after, query)
    iterator = client.list_workflows(query or None, page_size=first, next_page_token=token)
    with temporal_calls("-", "list_runs"):
        await iterator.fetch_next_page(page_size=first)
    runs = [summary_of(e) for e in iterator.current_page or []]
    return RunPage(runs=runs, next_cursor=encode_cursor(sealer, iterator.next_page_token, query))


async def count(client: Client, query: str) -> tuple[int, list[StatusCount]]:
    grouped = f"{query} GROUP BY ExecutionStatus" if query else "GROUP BY ExecutionStatus"
    with temporal_calls("-", "count_runs"):
        answer = await client.count_workflows(grouped)
    counts: dict[RunStatus, int] = {}
    for group in answer.groups:
        raw = group.group_values[0] if group.group_values else None
        status = STATUS_OF_VISIBILITY.get(str(raw)) if raw is not None else None
        if status is not None:
            counts[status] = counts.get(status, 0) + group.count
    by_status = [StatusCount(status=s, count=n) for s, n in counts.items()]
    return answer.count, sorted(by_status, key=lambda c: c.status.value)


async def visible_description(
    client: Client, scope: Scope, workflow_id: str
) -> WorkflowExecutionDescription:
    """The latest run of ``workflow_id`` if the caller may see it; else 404 (the same answer as
    for a run that does not exist)."""
    with temporal_calls(workflow_id, "describe_run"):
        description = await client.get_workflow_handle(workflow_id).describe()
    if not scope.sees(description.typed_search_attributes):
        raise not_found(workflow_id)
    return description


def _time(stamp: Any) -> datetime | None:
    if stamp is None or (not stamp.seconds and not stamp.nanos):
        return None
    return stamp.ToDatetime(tzinfo=UTC)  # type: ignore[no-any-return]


def failure_message(failure: Failure) -> str:
    """The failure's message and its causes' (plain text in ADX: failures are not encoded)."""
    parts: list[str] = []
    current: Failure | None = failure
    while current is not None and len(parts) < 5:
        if current.message:
            parts.append(current.message)
        current = current.cause if current.HasField("cause") else None
    return ": ".join(parts)[:MAX_MESSAGE]


def failure_type(error: BaseException) -> str:
    """A stable name for a failure (the innermost ``ApplicationError`` type, else the kind of
    the innermost cause): reasons aggregated in insights carry no message, so no data."""
    current: BaseException | None = error
    found = type(error).__name__
    while current is not None:
        if isinstance(current, ApplicationError) and current.type:
            found = current.type
        elif not isinstance(current, FailureError | ApplicationError):
            found = type(current).__name__
        elif isinstance(current, FailureError) and not isinstance(current, ApplicationError):
            found = found if found != "FailureError" else type(current).__name__
        current = current.__cause__
    return found


def _pending(description: WorkflowExecutionDescription) -> list[PendingActivity]:
    pending = []
    for info in description.raw_description.pending_activities:
        pending.append(
            PendingActivity(
                activity_id=info.activity_id,
                type=info.activity_type.name,
                state=PendingActivityState.Name(info.state).removeprefix("PENDING_ACTIVITY_STATE_"),
                attempt=info.attempt,
                maximum_attempts=info.maximum_attempts,
                last_failure=failure_message(info.last_failure)
                if info.HasField("last_failure")
                else None,
                last_attempt_time=_time(info.last_started_time),
                next_attempt_time=_time(info.next_attempt_schedule_time),
                last_heartbeat_time=_time(info.last_heartbeat_time),
            )
        )
    return pending


async def _children(
    client: Client, scope: Scope, description: WorkflowExecutionDescription
) -> list[ChildRun]:
    children = {
        c.workflow_id: ChildRun(
            workflow_id=c.workflow_id,
            run_id=c.run_id,
            type=c.workflow_type_name,
            status=RunStatus.RUNNING,
        )
        for c in description.raw_description.pending_children
    }
    try:
        parent = literal(description.id)
    except InvalidInputError:
        return list(children.values())  # an id we do not put into a query
    own = scope.clause()
    query = f"ParentWorkflowId = {parent}" + (f" AND ({own})" if own else "")
    try:
        async for execution in client.list_workflows(query, limit=MAX_CHILDREN):
            children[execution.id] = ChildRun(
                workflow_id=execution.id,
                run_id=execution.run_id,
                type=execution.workflow_type,
                status=status_of(execution.status),
            )
    except RPCError:
        pass  # a visibility store without ParentWorkflowId: the pending children only
    return list(children.values())[:MAX_CHILDREN]


async def progress_of(client: Client, workflow_id: str, run_id: str) -> RunProgress | None:
    """The run's ``progress`` query, if its worker answers in time (None otherwise)."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    try:
        async with asyncio.timeout(QUERY_SECONDS):
            answer = await handle.query(PROGRESS_QUERY)
        return RunProgress.model_validate(answer)
    except Exception:  # no progress query, no worker, or a malformed answer
        return None


async def _first_and_close(
    client: Client, workflow_id: str, run_id: str, *, closed: bool
) -> tuple[HistoryEvent | None, HistoryEvent | None]:
    """The start event, and the close event of a ``closed`` run (asking a running one for its
    close event waits for it)."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    first = None
    async for event in handle.fetch_history_events(page_size=1):
        first = event
        break
    close = None
    if not closed:
        return first, None
    async for event in handle.fetch_history_events(
        event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT
    ):
        close = event
    return first, close


async def payloads_of(
    client: Client, workflow_id: str, run_id: str, *, closed: bool
) -> tuple[list[Any] | None, Any | None, str | None]:
    """Input, result and failure of a run, decoded through the payload codec."""
    first, close = await _first_and_close(client, workflow_id, run_id, closed=closed)
    converter = client.data_converter
    run_input: list[Any] | None = None
    if first is not None and first.HasField("workflow_execution_started_event_attributes"):
        started = first.workflow_execution_started_event_attributes
        run_input = list(await converter.decode(started.input.payloads))
    result: Any | None = None
    failure: str | None = None
    if close is not None:
        if close.HasField("workflow_execution_completed_event_attributes"):
            payloads = close.workflow_execution_completed_event_attributes.result.payloads
            decoded = await converter.decode(payloads) if payloads else []
            result = decoded[0] if decoded else None
        elif close.HasField("workflow_execution_failed_event_attributes"):
            failure = failure_message(close.workflow_execution_failed_event_attributes.failure)
    return run_input, result, failure


async def describe(client: Client, scope: Scope, workflow_id: str) -> RunDetails:
    description = await visible_description(client, scope, workflow_id)
    values = search_attributes.adx_values(description.typed_search_attributes)
    status = status_of(description.status)
    with temporal_calls(workflow_id, "describe_run"):
        memo = await description.memo()
        children = await _children(client, scope, description)
        visible = scope.manages(description.typed_search_attributes)
        run_input, result, failure = (
            await payloads_of(
                client, workflow_id, description.run_id, closed=status != RunStatus.RUNNING
            )
            if visible
            else (None, None, None)
        )
    progress = (
        await progress_of(client, workflow_id, description.run_id)
        if status == RunStatus.RUNNING
        else None
    )
    retry_of = memo.get(RETRY_OF_MEMO)
    return RunDetails(
        workflow_id=description.id,
        run_id=description.run_id,
        type=description.workflow_type,
        status=status,
        task_queue=description.task_queue,
        start_time=description.start_time,
        close_time=description.close_time,
        history_length=description.raw_description.workflow_execution_info.history_length,
        tenant_id=values["tenant_id"],
        user_id=values["user_id"],
        progress=progress,
        pending_activities=_pending(description),
        children=children,
        parent_workflow_id=description.parent_id,
        parent_run_id=description.parent_run_id,
        retry_of=str(retry_of) if retry_of else None,
        payloads_visible=visible,
        input=run_input,
        result=result,
        failure=failure,
    )


async def stack_trace(client: Client, scope: Scope, workflow_id: str) -> tuple[str, str]:
    description = await visible_description(client, scope, workflow_id)
    if description.status != WorkflowExecutionStatus.RUNNING:
        raise ConflictError("only a running workflow has a stack trace")
    handle = client.get_workflow_handle(workflow_id, run_id=description.run_id)
    with temporal_calls(workflow_id, "stack_trace"):
        async with asyncio.timeout(QUERY_SECONDS * 2):
            trace = await handle.query(STACK_TRACE_QUERY, result_type=str)
    return description.run_id, trace


async def history_json(client: Client, scope: Scope, workflow_id: str) -> dict[str, Any]:
    """The run's history as Temporal's JSON (``WorkflowHistory.from_json`` reads it back, for a
    replay test). Payloads stay encrypted, as stored; only managers get it."""
    description = await visible_description(client, scope, workflow_id)
    scope.require_manager(description.typed_search_attributes, workflow_id)
    handle = client.get_workflow_handle(workflow_id, run_id=description.run_id)
    with temporal_calls(workflow_id, "history"):
        history = await handle.fetch_history()
    return json.loads(history.to_json())  # type: ignore[no-any-return]


# --- actions ----------------------------------------------------------------------------------


async def manageable(
    client: Client, scope: Scope, workflow_id: str
) -> WorkflowExecutionDescription:
    description = await visible_description(client, scope, workflow_id)
    scope.require_manager(description.typed_search_attributes, workflow_id)
    return description


def _require_running(description: WorkflowExecutionDescription, action: str) -> None:
    if description.status != WorkflowExecutionStatus.RUNNING:
        raise ConflictError(f"only a running workflow can be {action}")


async def cancel(client: Client, description: WorkflowExecutionDescription) -> None:
    _require_running(description, "cancelled")
    handle = client.get_workflow_handle(description.id, run_id=description.run_id)
    with temporal_calls(description.id, "cancel_run"):
        await handle.cancel()


async def terminate(client: Client, description: WorkflowExecutionDescription, reason: str) -> None:
    _require_running(description, "terminated")
    handle = client.get_workflow_handle(description.id, run_id=description.run_id)
    with temporal_calls(description.id, "terminate_run"):
        await handle.terminate(reason=reason)


def retry_id(workflow_id: str) -> str:
    return f"{workflow_id[:230]}.retry-{uuid.uuid4().hex[:12]}"


async def retry(
    client: Client, principal: Principal, description: WorkflowExecutionDescription
) -> tuple[str, str]:
    """Start the run again with the same input under a new id, linked to the old run by the
    ``adx_retry_of`` memo; it acts for the caller (a security context is bound to one start)
    and stays in the old run's tenant. Returns (new workflow id, new run id)."""
    status = status_of(description.status)
    if status not in RETRYABLE:
        raise ConflictError(f"a {status.value.lower()} run is not retried")
    with temporal_calls(description.id, "retry_run"):
        first, _ = await _first_and_close(client, description.id, description.run_id, closed=False)
        if first is None or not first.HasField("workflow_execution_started_event_attributes"):
            raise ConflictError("the run's input is no longer in its history")
        args = list(
            await client.data_converter.decode(
                first.workflow_execution_started_event_attributes.input.payloads
            )
        )
        tenant = search_attributes.adx_values(description.typed_search_attributes)["tenant_id"]
        attributes = TypedSearchAttributes(
            [SearchAttributePair(search_attributes.TENANT_ID, tenant)] if tenant else []
        )
        new_id = retry_id(description.id)
        with acting_as(SecurityContext.for_principal(principal)):
            handle = await client.start_workflow(
                description.workflow_type,
                args=args,
                id=new_id,
                task_queue=description.task_queue,
                memo={RETRY_OF_MEMO: f"{description.id}/{description.run_id}"},
                search_attributes=attributes,
            )
    return new_id, handle.first_execution_run_id or handle.result_run_id or ""


async def reset(client: Client, description: WorkflowExecutionDescription, reason: str) -> str:
    """Reset the run to its last completed workflow task (what ``temporal workflow reset
    --type LastWorkflowTask`` does): a new run of the same id. Returns its run id."""
    handle = client.get_workflow_handle(description.id, run_id=description.run_id)
    last_task: int | None = None
    with temporal_calls(description.id, "reset_run"):
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                last_task = event.event_id
        if last_task is None:
            raise ConflictError("the run has no completed workflow task to reset to")
        answer = await client.workflow_service.reset_workflow_execution(
            ResetWorkflowExecutionRequest(
                namespace=client.namespace,
                workflow_execution=WorkflowExecutionProto(
                    workflow_id=description.id, run_id=description.run_id
                ),
                reason=reason,
                workflow_task_finish_event_id=last_task,
                request_id=str(uuid.uuid4()),
            )
        )
    return answer.run_id


@asynccontextmanager
async def paced(rate_per_second: float) -> AsyncIterator[Any]:
    """A pacer for batch steps: ``await pace()`` before each, at most ``rate`` per second."""
    interval = 1.0 / rate_per_second
    loop = asyncio.get_running_loop()
    last = [loop.time() - interval]

    async def pace() -> None:
        wait = last[0] + interval - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        last[0] = loop.time()

    yield pace
