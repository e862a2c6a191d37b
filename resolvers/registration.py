"""Registration: ``signUp`` spans auth and user, so it starts the ``user_registration`` workflow;
``verifyEmail`` forwards the link token to the auth API, which spends it and updates that run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway.progress_relay import describe
from gateway.run_access import RunIdentity, identify_run
from gateway.started_runs import recording
from resolvers.workflow_runs import run_of
from schema.auth import SignUpInput
from schema.errors import UserFacingError
from schema.workflow_runs import WorkflowRun
from services.common.registration import start_sign_up
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName
from workflows.auth.user_registration import InvalidRegistrationError

if TYPE_CHECKING:
    from gateway.context import GatewayContext


async def resolve_sign_up(info: strawberry.Info[GatewayContext], input: SignUpInput) -> WorkflowRun:
    """Every sign-up is its own run with its own access token (``services.common.registration``):
    a sign-up for an address that is already pending never joins, nor sees, that run. The same
    request retried with its ``Idempotency-Key`` answers the run it started."""
    state = info.context.state
    principal = await info.context.optional_principal()

    async def start() -> str:
        with acting_as(SecurityContext.for_caller(principal)):
            try:
                return await start_sign_up(
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

    arguments = [input.email, input.password, input.display_name]
    with recording() as started:
        workflow_id = await info.context.started_once(info, arguments, start)
    run = started.get(workflow_id)
    if run is not None:  # started now: the start answers (no read back from Temporal)
        identity = RunIdentity(workflow_id, run.first_run_id, owner=None)  # the token: id + chain
        return WorkflowRun.started(
            run.workflow_id, run.workflow_type, run.run_id, state.run_access.token(identity)
        )
    # An Idempotency-Key retry: the run it started earlier, as it is now.
    description = await describe(state.temporal, workflow_id)
    answer = await run_of(info, workflow_id, description)
    answer.access_token = state.run_access.token(await identify_run(description))
    return answer


async def resolve_verify_email(
    info: strawberry.Info[GatewayContext],
    token: str,
    password: Annotated[
        str | None,
        strawberry.argument(
            description="Only when the answer was PASSWORD_REQUIRED (more than one sign-up "
            "was made with this address): the password chosen at this link's sign-up."
        ),
    ] = None,
) -> bool:
    body = {"token": token} if password is None else {"token": token, "password": password}
    await info.context.service(ServiceName.auth).send("POST", "/auth/verify-email", json=body)
    return True
