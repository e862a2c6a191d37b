"""Workflow runs: read through Temporal (describe + ``progress`` query); progress is streamed
by a subscription fed from the Redis relay."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

import strawberry
from temporalio.client import WorkflowExecutionDescription

from gateway.progress_relay import WorkflowNotFound
from gateway.run_access import identify_run
from schema.errors import NOT_FOUND, UserFacingError
from schema.workflow_runs import WorkflowRun

if TYPE_CHECKING:
    from gateway.context import GatewayContext

MAX_ID_LENGTH = 255


def _check_id(workflow_id: str) -> str:
    if not 0 < len(workflow_id) <= MAX_ID_LENGTH:
        raise UserFacingError("workflow id must be 1-255 characters")
    return workflow_id


def _not_found(workflow_id: str) -> UserFacingError:
    return UserFacingError(f"workflow {workflow_id!r} not found", NOT_FOUND)


async def authorized_description(
    info: strawberry.Info[GatewayContext], workflow_id: str, access_token: str | None
) -> WorkflowExecutionDescription:
    """The run, for its access token or its owner's session; otherwise it does not exist for
    you (the same answer as a run that really does not exist)."""
    context = info.context
    try:
        description = await context.state.relay.describe(_check_id(workflow_id))
    except WorkflowNotFound as error:
        raise _not_found(workflow_id) from error
    run = await identify_run(description)
    if context.state.run_access.valid(run, access_token):
        return description
    principal = await context.optional_principal()
    if principal is not None and run.owner is not None and principal.user_id == run.owner:
        return description
    raise _not_found(workflow_id)


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


async def resolve_workflow_run(
    info: strawberry.Info[GatewayContext],
    id: strawberry.ID,
    access_token: str | None = None,
) -> WorkflowRun:
    return await run_of(info, id, await authorized_description(info, id, access_token))


async def subscribe_workflow_progress(
    info: strawberry.Info[GatewayContext],
    id: strawberry.ID,
    access_token: str | None = None,
) -> AsyncGenerator[WorkflowRun, None]:
    """Every change of the run's progress, ending with its final status and result."""
    state = info.context.state
    await authorized_description(info, id, access_token)
    try:
        async for run_state in state.relay.subscribe(id, state.settings.subscription_max_seconds):
            yield WorkflowRun.from_state(run_state)
    except WorkflowNotFound as error:
        raise _not_found(id) from error
