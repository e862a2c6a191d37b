"""``signUp``: spans auth and user, so it starts the ``user_registration`` workflow."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from gateway.progress_relay import describe
from gateway.run_access import identify_run
from resolvers.workflow_runs import run_of
from schema.auth import SignUpInput
from schema.errors import UserFacingError
from schema.workflow_runs import WorkflowRun
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName
from services.common.sign_up import start_sign_up
from workflows.auth.user_registration import InvalidRegistrationError

if TYPE_CHECKING:
    from gateway.context import GatewayContext


async def resolve_sign_up(info: strawberry.Info[GatewayContext], input: SignUpInput) -> WorkflowRun:
    """Every sign-up is its own run with its own access token (``services.common.sign_up``):
    a sign-up for an address that is already pending never joins, nor sees, that run."""
    state = info.context.state
    principal = await info.context.optional_principal()
    with acting_as(SecurityContext.for_caller(principal)):
        try:
            workflow_id = await start_sign_up(
                state.temporal,
                state.settings.task_queue(ServiceName.auth),
                email=input.email,
                password=input.password,
                display_name=input.display_name,
                verification_timeout_seconds=state.settings.auth_verification_hours * 3600,
            )
        except InvalidRegistrationError as error:
            # The same words as ``/auth/register``, before anything is hashed or started.
            raise UserFacingError(str(error)) from error
    description = await describe(state.temporal, workflow_id)
    run = await run_of(info, workflow_id, description)
    run.access_token = state.run_access.token(await identify_run(description))
    return run
