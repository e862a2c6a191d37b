"""Carries the security context (services/common/security_context.py) client -> workflow ->
activity in the ``adx-security-context`` header.

- client: a start (also signal-with-start and update-with-start) carries the caller's current
  context, sealed (anonymous when none is set: least privilege), and the ADX search attributes
  from it (tenant, acting user, operation: ``services/common/search_attributes.py``);
- workflow: the header its run was started with is kept as it is (still sealed: nothing is
  decrypted in the sandbox, so replay needs no key and no ContextVar) and copied onto every
  activity, local activity, child workflow and continue-as-new; a child also gets the parent's
  tenant and actor search attributes;
- activity: the header is unsealed into the ContextVar for the attempt and the actor's ids are
  bound into its log lines. A header that is present but not ours fails the attempt for good.

Activities act with the context of the workflow's *starter*. Signals, updates and queries
carry no header: the workflow would not act on it (and the gateway's progress polling would
pay for sealing one on every query).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from temporalio import activity, client, workflow
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import (
    ActivityInboundInterceptor,
    ContinueAsNewInput,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    Interceptor,
    StartActivityInput,
    StartChildWorkflowInput,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from services.common import search_attributes
from services.common.data_migration import NIGHTLY_SCHEDULE_PREFIX
from services.common.security_context import (
    HEADER_KEY,
    MAX_START_DELAY,
    InvalidSecurityContextError,
    SealedContext,
    SecurityContext,
    acting_as,
    bound_to_logs,
    current_context,
    denied,
    seal,
    unseal,
)
from workflows.reconciliation.contracts import DATA_MIGRATION

#: Set by the Temporal server on a run a Schedule started (no client can set it): its id.
SCHEDULED_BY = "TemporalScheduledById"
#: The Schedules the platform creates itself, by id prefix, and the one workflow type each
#: starts (``scheduled_context``).
PLATFORM_SCHEDULES: Mapping[str, str] = {NIGHTLY_SCHEDULE_PREFIX: DATA_MIGRATION}
#: Runs whose origin a worker remembers (a few hundred bytes each).
_ROOT_CACHE_SIZE = 10_000
#: Parents followed at most, on servers that do not report the root execution.
_MAX_DEPTH = 16


class _HasHeaders(Protocol):
    headers: Mapping[str, Payload]


def _with_header(input: _HasHeaders, payload: Payload | None) -> None:
    """Add the header unless the caller set one explicitly."""
    if payload is not None and HEADER_KEY not in input.headers:
        input.headers = {**input.headers, HEADER_KEY: payload}


class SecurityContextInterceptor(client.Interceptor, Interceptor):
    """Register on the client (``connect_temporal``); workers built from that client pick it up."""

    def __init__(self, converter: DataConverter) -> None:
        self.converter = converter
        self._roots = RootRuns()

    def intercept_client(self, next: client.OutboundInterceptor) -> client.OutboundInterceptor:
        return _ClientOutbound(next, self.converter)

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityInbound(next, self.converter, self._roots)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        return _WorkflowInbound


class _ClientOutbound(client.OutboundInterceptor):
    def __init__(self, next: client.OutboundInterceptor, converter: DataConverter) -> None:
        super().__init__(next)
        self._converter = converter

    async def _stamp(
        self,
        input: client.StartWorkflowInput | client.UpdateWithStartStartWorkflowInput,
        workflow_id: str,
    ) -> None:
        # Least privilege by default: a start nobody claimed acts for nobody in particular.
        context = current_context() or SecurityContext.anonymous()
        _with_header(input, await seal(context, self._converter, workflow_id=workflow_id))
        input.search_attributes = search_attributes.stamped(
            input.search_attributes,
            tenant_id=context.tenant_id,
            user_id=context.user_id,
            operation=input.workflow,
        )

    async def start_workflow(self, input: client.StartWorkflowInput) -> Any:
        await self._stamp(input, input.id)
        return await super().start_workflow(input)

    async def start_update_with_start_workflow(
        self, input: client.StartWorkflowUpdateWithStartInput
    ) -> Any:
        await self._stamp(input.start_workflow_input, input.start_workflow_input.id)
        return await super().start_update_with_start_workflow(input)


@dataclass(frozen=True)
class RootRun:
    """The top-level workflow a run descends from (itself, or the parent of its parent...) and
    when that workflow's first run (before any continue-as-new) was started; the Schedule that
    started it, if one did (the server's ``TemporalScheduledById``), and its type."""

    workflow_id: str
    started_at: datetime
    scheduled_by: str | None = None
    workflow_type: str | None = None


class RootRuns:
    """Where a run comes from, as the Temporal server tells it (describe), remembered per run:
    it never changes. The ids come from the activity task, not from anything a workflow sends."""

    def __init__(self) -> None:
        self._known: OrderedDict[tuple[str, str], RootRun] = OrderedDict()

    async def of(self, temporal: client.Client, workflow_id: str, run_id: str) -> RootRun:
        key = (workflow_id, run_id)
        if (known := self._known.get(key)) is not None:
            self._known.move_to_end(key)
            return known
        root = await self._look_up(temporal, workflow_id, run_id)
        self._known[key] = root
        while len(self._known) > _ROOT_CACHE_SIZE:
            self._known.popitem(last=False)
        return root

    async def _look_up(self, temporal: client.Client, workflow_id: str, run_id: str) -> RootRun:
        for _ in range(_MAX_DEPTH):
            described = await _describe(temporal, workflow_id, run_id)
            if described.root_id and described.root_run_id:
                workflow_id, run_id = described.root_id, described.root_run_id
                if (workflow_id, run_id) != (described.id, described.run_id):
                    described = await _describe(temporal, workflow_id, run_id)
            elif described.parent_id and described.parent_run_id:  # servers without "root"
                workflow_id, run_id = described.parent_id, described.parent_run_id
                continue
            first = described.raw_description.workflow_execution_info.first_run_id
            if first and first != run_id:  # a continue-as-new chain: its first run's start
                described = await _describe(temporal, workflow_id, first)
            scheduled_by = described.search_attributes.get(SCHEDULED_BY) or []
            return RootRun(
                workflow_id,
                described.start_time,
                scheduled_by=str(scheduled_by[0]) if len(scheduled_by) == 1 else None,
                workflow_type=described.workflow_type,
            )
        raise denied("the workflow is nested too deep to trace its security context")


async def _describe(
    temporal: client.Client, workflow_id: str, run_id: str
) -> client.WorkflowExecutionDescription:
    try:
        return await temporal.get_workflow_handle(workflow_id, run_id=run_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise denied("the workflow the security context was sealed for is gone") from error
        raise  # transient: the attempt is retried


def check_binding(sealed: SealedContext, root: RootRun) -> None:
    """The header must have been sealed for this work's root workflow, for its start: a header
    copied out of one history is refused on any other workflow id, and on a later start with
    the same id."""
    if root.workflow_id != sealed.workflow_id:
        raise denied("the security context was sealed for another workflow")
    if abs(root.started_at - sealed.issued_at) > MAX_START_DELAY:
        raise denied("the security context was sealed for an earlier start of this workflow")


def scheduled_context(root: RootRun) -> SecurityContext | None:
    """The platform (``system``) for a run one of the platform's own Schedules started
    (``PLATFORM_SCHEDULES``: the id prefix and the one workflow type it starts). A Schedule's
    start is the server's, so its runs carry no sealed header; anything else without one acts
    for nobody."""
    if root.scheduled_by is None:
        return None
    for prefix, workflow_type in PLATFORM_SCHEDULES.items():
        if root.scheduled_by.startswith(prefix) and root.workflow_type == workflow_type:
            return SecurityContext.system(f"schedule:{root.scheduled_by}")
    return None


class _ActivityInbound(ActivityInboundInterceptor):
    def __init__(
        self, next: ActivityInboundInterceptor, converter: DataConverter, roots: RootRuns
    ) -> None:
        super().__init__(next)
        self._converter = converter
        self._roots = roots

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        header = input.headers.get(HEADER_KEY)
        context = None
        if header is not None:
            try:
                sealed = await unseal(header, self._converter)
            except InvalidSecurityContextError as error:
                raise denied(str(error)) from error
            info = activity.info()
            if not info.workflow_id or not info.workflow_run_id:
                raise denied("a security context is only honoured inside a workflow")
            root = await self._roots.of(activity.client(), info.workflow_id, info.workflow_run_id)
            check_binding(sealed, root)
            context = sealed.context
        elif (info := activity.info()).workflow_id and info.workflow_run_id:
            root = await self._roots.of(activity.client(), info.workflow_id, info.workflow_run_id)
            context = scheduled_context(root)
        with acting_as(context), bound_to_logs(context):
            return await super().execute_activity(input)


class _WorkflowInbound(WorkflowInboundInterceptor):
    """One per workflow run: the run's sealed header lives here, an ordinary attribute, so it is
    deterministic state of this run and survives replay (it is read from the start event)."""

    header: Payload | None = None

    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_WorkflowOutbound(outbound, self))

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        self.header = input.headers.get(HEADER_KEY)
        return await super().execute_workflow(input)


class _WorkflowOutbound(WorkflowOutboundInterceptor):
    def __init__(self, next: WorkflowOutboundInterceptor, run: _WorkflowInbound) -> None:
        super().__init__(next)
        self._run = run

    def start_activity(self, input: StartActivityInput) -> workflow.ActivityHandle[Any]:
        _with_header(input, self._run.header)
        return super().start_activity(input)

    def start_local_activity(self, input: StartLocalActivityInput) -> workflow.ActivityHandle[Any]:
        _with_header(input, self._run.header)
        return super().start_local_activity(input)

    async def start_child_workflow(
        self, input: StartChildWorkflowInput
    ) -> workflow.ChildWorkflowHandle[Any, Any]:
        _with_header(input, self._run.header)
        # The parent's tenant and actor, read from its start (deterministic on replay).
        parent = search_attributes.adx_values(workflow.info().typed_search_attributes)
        input.search_attributes = search_attributes.stamped(
            input.search_attributes,
            tenant_id=parent["tenant_id"],
            user_id=parent["user_id"],
            operation=input.workflow,
        )
        return await super().start_child_workflow(input)

    def continue_as_new(self, input: ContinueAsNewInput) -> Any:
        _with_header(input, self._run.header)
        return super().continue_as_new(input)
