"""Sign-up over the auth API (the same workflow as the gateway's ``signUp``) and e-mail
verification with the token from the mail."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from temporalio.service import RPCError

from services.auth.dependencies import RuntimeDep
from services.auth.fields import DisplayName, Email, OpaqueToken, Password
from services.auth.one_time_tokens import redeem
from services.common.errors import InvalidInputError, ServiceUnavailableError
from services.common.settings import ServiceName
from workflows.auth.contracts import TokenPurpose
from workflows.auth.user_registration import (
    VERIFY_EMAIL_UPDATE,
    InvalidRegistrationError,
    VerifyEmailInput,
    VerifyEmailResult,
    registration_input,
    start_registration,
)

router = APIRouter(tags=["registration"])


_INVALID_LINK: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid, spent or expired token (one answer for all)"}
}
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "Temporal unreachable; retry"}
}


class RegisterRequest(BaseModel):
    email: Email
    password: Password
    display_name: DisplayName


class RegistrationAccepted(BaseModel):
    """Follow the run with the gateway's ``workflowRun``/``workflowProgress`` and this id."""

    workflow_id: str
    status: str = "accepted"


class TokenRequest(BaseModel):
    token: OpaqueToken


class VerifyEmailResponse(BaseModel):
    status: str


@router.post(
    "/auth/register",
    status_code=202,
    responses={422: {"description": "Invalid e-mail, password or display name"}, **_UNAVAILABLE},
)
async def register(body: RegisterRequest, runtime: RuntimeDep) -> RegistrationAccepted:
    """Start a sign-up. The answer is the same whether or not the address has an account; its
    owner is told by mail instead."""
    settings = runtime.settings
    try:
        registration = registration_input(
            body.email,
            body.password,
            body.display_name,
            verification_timeout_seconds=settings.auth_verification_hours * 3600,
        )
    except InvalidRegistrationError as error:
        raise InvalidInputError(str(error)) from error
    try:
        workflow_id = await start_registration(
            runtime.resources.temporal, settings.task_queue(ServiceName.auth), registration
        )
    except RPCError as error:
        raise ServiceUnavailableError("Could not start the sign-up now; try again.") from error
    return RegistrationAccepted(workflow_id=workflow_id)


@router.post("/auth/verify-email", responses={**_INVALID_LINK, **_UNAVAILABLE})
async def verify_email(body: TokenRequest, runtime: RuntimeDep) -> VerifyEmailResponse:
    result = await redeem(
        runtime,
        body.token,
        purpose=TokenPurpose.verify_email,
        update=VERIFY_EMAIL_UPDATE,
        argument=lambda token_hash: VerifyEmailInput(token_hash=token_hash),
        result_type=VerifyEmailResult,
    )
    return VerifyEmailResponse(status=result.status)
