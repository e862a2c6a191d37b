"""Workflow runs: read through Temporal (describe + ``progress`` query); progress is streamed
by a subscription fed from the Redis relay."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

import strawberry

from gateway.progress_relay import WorkflowNotFound, read_run_state
from gateway.run_access import identify_run
from schema.errors import NOT_FOUND, UserFacingError
from schema.types import WorkflowRun

if TYPE_CHECKING:
    from gateway.context import GatewayContext

MAX_ID_LENGTH = 255


def _check_id(workflow_id: str) -> str:
    if not 0 < len(workflow_id) <= MAX_ID_LENGTH:
        raise UserFacingError("workflow id must be 1-255 characters")
    return workflow_id


def _not_found(workflow_id: str) -> UserFacingError:
    return UserFacingError(f"workflow {workflow_id!r} not found", NOT_FOUND)


async def authorize_run(
    info: strawberry.Info[GatewayContext], workflow_id: str, access_token: str | None
) -> None:
    """The run's access token or its owner's session; otherwise it does not exist for you."""
    context = info.context
    run = await identify_run(context.state.temporal, workflow_id)
    if run is None:
        raise _not_found(workflow_id)
    if context.state.run_access.valid(run, access_token):
        return
    principal = await context.optional_principal()
    if principal is not None and run.owner is not None and principal.user_id == run.owner:
        return
    raise _not_found(workflow_id)


async def describe_run(info: strawberry.Info[GatewayContext], workflow_id: str) -> WorkflowRun:
    try:
        state = await read_run_state(info.context.state.temporal, _check_id(workflow_id))
    except WorkflowNotFound as error:
        raise _not_found(workflow_id) from error
    return WorkflowRun.from_state(state)


async def resolve_workflow_run(
    info: strawberry.Info[GatewayContext],
    id: strawberry.ID,
    access_token: str | None = None,
) -> WorkflowRun:
    await authorize_run(info, _check_id(id), access_token)
    return await describe_run(info, id)


async def subscribe_workflow_progress(
    info: strawberry.Info[GatewayContext],
    id: strawberry.ID,
    access_token: str | None = None,
) -> AsyncGenerator[WorkflowRun, None]:
    """Every change of the run's progress, ending with its final status and result."""
    state = info.context.state
    await authorize_run(info, _check_id(id), access_token)
    try:
        async for run_state in state.relay.subscribe(
            _check_id(id), state.settings.subscription_max_seconds
        ):
            yield WorkflowRun.from_state(run_state)
    except WorkflowNotFound as error:
        raise _not_found(id) from error
