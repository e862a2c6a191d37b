"""``signUp``: spans auth and user, so it starts the ``user_registration`` workflow."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from email_validator import EmailNotValidError, validate_email
from temporalio.common import WorkflowIDConflictPolicy

from resolvers.workflow_runs import describe_run
from schema.errors import UserFacingError
from schema.types import SignUpInput, WorkflowRun
from services.common.settings import ServiceName
from workflows.auth.password_policy import PasswordPolicyError, check_policy
from workflows.auth.user_registration import (
    WORKFLOW_NAME,
    RegistrationInput,
    registration_workflow_id,
)

if TYPE_CHECKING:
    from gateway.context import GatewayContext


def validate_sign_up(input: SignUpInput) -> RegistrationInput:
    """Reject bad input before a workflow exists, with messages a form can show."""
    try:
        email = validate_email(input.email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise UserFacingError(f"invalid e-mail address: {error}") from error
    try:
        check_policy(input.password)
    except PasswordPolicyError as error:
        raise UserFacingError(str(error)) from error
    display_name = input.display_name.strip()
    if not 1 <= len(display_name) <= 200:
        raise UserFacingError("display name must be 1-200 characters")
    return RegistrationInput(email=email, password=input.password, display_name=display_name)


async def resolve_sign_up(info: strawberry.Info[GatewayContext], input: SignUpInput) -> WorkflowRun:
    registration = validate_sign_up(input)
    state = info.context.state
    workflow_id = registration_workflow_id(registration.email)
    # A second sign-up while the first is running joins it instead of starting another.
    await state.temporal.start_workflow(
        WORKFLOW_NAME,
        registration,
        id=workflow_id,
        task_queue=state.settings.task_queue(ServiceName.auth),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    run = await describe_run(info, workflow_id)
    run.access_token = state.run_access.token(workflow_id)
    return run
