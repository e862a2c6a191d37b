"""Carries the security context (services/common/security_context.py) client -> workflow ->
activity in the ``adx-security-context`` header.

- client: starts, signals, updates and queries carry the caller's current context, sealed
  (anonymous when none is set: least privilege);
- workflow: the header its run was started with is kept as it is (still sealed: nothing is
  decrypted in the sandbox, so replay needs no key and no ContextVar) and copied onto every
  activity, local activity, child workflow, signal to a child and continue-as-new;
- activity: the header is unsealed into the ContextVar for the attempt and the actor's ids are
  bound into its log lines. A header that is present but not ours fails the attempt for good.

Activities act with the context of the workflow's *starter*; signals and updates carry their
sender's context too, but the workflow does not switch to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from temporalio import client, workflow
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter
from temporalio.worker import (
    ActivityInboundInterceptor,
    ContinueAsNewInput,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    Interceptor,
    SignalChildWorkflowInput,
    StartActivityInput,
    StartChildWorkflowInput,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from services.common.security_context import (
    HEADER_KEY,
    InvalidSecurityContextError,
    SecurityContext,
    acting_as,
    bound_to_logs,
    current_context,
    denied,
    seal,
    unseal,
)


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

    def intercept_client(self, next: client.OutboundInterceptor) -> client.OutboundInterceptor:
        return _ClientOutbound(next, self.converter)

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityInbound(next, self.converter)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        return _WorkflowInbound


class _ClientOutbound(client.OutboundInterceptor):
    def __init__(self, next: client.OutboundInterceptor, converter: DataConverter) -> None:
        super().__init__(next)
        self._converter = converter

    async def _stamp(self, input: _HasHeaders) -> None:
        # Least privilege by default: a start nobody claimed acts for nobody in particular.
        context = current_context() or SecurityContext.anonymous()
        _with_header(input, await seal(context, self._converter))

    async def start_workflow(self, input: client.StartWorkflowInput) -> Any:
        await self._stamp(input)
        return await super().start_workflow(input)

    async def signal_workflow(self, input: client.SignalWorkflowInput) -> None:
        await self._stamp(input)
        await super().signal_workflow(input)

    async def query_workflow(self, input: client.QueryWorkflowInput) -> Any:
        await self._stamp(input)
        return await super().query_workflow(input)

    async def start_workflow_update(self, input: client.StartWorkflowUpdateInput) -> Any:
        await self._stamp(input)
        return await super().start_workflow_update(input)

    async def start_update_with_start_workflow(
        self, input: client.StartWorkflowUpdateWithStartInput
    ) -> Any:
        await self._stamp(input.start_workflow_input)
        await self._stamp(input.update_workflow_input)
        return await super().start_update_with_start_workflow(input)


class _ActivityInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, converter: DataConverter) -> None:
        super().__init__(next)
        self._converter = converter

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        header = input.headers.get(HEADER_KEY)
        context = None
        if header is not None:
            try:
                context = await unseal(header, self._converter)
            except InvalidSecurityContextError as error:
                raise denied(str(error)) from error
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
        return await super().start_child_workflow(input)

    async def signal_child_workflow(self, input: SignalChildWorkflowInput) -> None:
        _with_header(input, self._run.header)
        await super().signal_child_workflow(input)

    def continue_as_new(self, input: ContinueAsNewInput) -> Any:
        _with_header(input, self._run.header)
        return super().continue_as_new(input)
