"""``signUp``: spans auth and user, so it starts the ``user_registration`` workflow."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from gateway.progress_relay import describe
from gateway.run_access import identify_run
from resolvers.workflow_runs import run_of
from schema.errors import UserFacingError
from schema.types import SignUpInput, WorkflowRun
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName, Settings
from workflows.auth.user_registration import (
    InvalidRegistrationError,
    RegistrationInput,
    registration_input,
    start_registration,
)

if TYPE_CHECKING:
    from gateway.context import GatewayContext


def validate_sign_up(input: SignUpInput, settings: Settings) -> RegistrationInput:
    """Reject bad input before a workflow exists, with the same words as ``/auth/register``."""
    try:
        return registration_input(
            input.email,
            input.password,
            input.display_name,
            verification_timeout_seconds=settings.auth_verification_hours * 3600,
        )
    except InvalidRegistrationError as error:
        raise UserFacingError(str(error)) from error


async def resolve_sign_up(info: strawberry.Info[GatewayContext], input: SignUpInput) -> WorkflowRun:
    state = info.context.state
    registration = validate_sign_up(input, state.settings)
    with acting_as(SecurityContext.for_caller(await info.context.optional_principal())):
        workflow_id = await start_registration(
            state.temporal, state.settings.task_queue(ServiceName.auth), registration
        )
    description = await describe(state.temporal, workflow_id)
    run = await run_of(info, workflow_id, description)
    run.access_token = state.run_access.token(await identify_run(description))
    return run
