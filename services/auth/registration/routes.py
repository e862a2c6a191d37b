"""Sign-up over the auth API (the same workflow as the gateway's ``signUp``) and e-mail
verification with the token from the mail."""

from __future__ import annotations

from fastapi import APIRouter

from services.auth.dependencies import ClientDep, RuntimeDep
from services.auth.one_time_tokens import redeem
from services.auth.registration.contested import require_password_if_contested
from services.auth.registration.links import link_workflow_id
from services.auth.schemas import (
    RegisterRequest,
    RegistrationAccepted,
    VerifyEmailRequest,
    VerifyEmailResponse,
)
from services.common import workflow_calls
from services.common.errors import ConflictError, InvalidInputError
from services.common.openapi import problems
from services.common.registration import start_sign_up
from services.common.settings import ServiceName
from workflows.auth.contracts import TokenPurpose
from workflows.auth.user_registration import (
    VERIFY_EMAIL_UPDATE,
    InvalidRegistrationError,
    RegistrationStatus,
    VerifyEmailInput,
    VerifyEmailResult,
)

router = APIRouter(tags=["registration"])


_INVALID_LINK = problems({400: "Invalid, spent or expired token (one answer for all)"})
_UNAVAILABLE = problems({503: "Temporal unreachable; retry"})
_START_ERRORS = workflow_calls.WorkflowErrors(
    call="registration_start", unavailable="Could not start the sign-up now; try again."
)


class AddressTakenError(ConflictError):
    """The link was this sign-up's, but another sign-up of the address was verified first (or
    the address has an account): its holder controls the mailbox, so telling them is safe."""

    type = "https://adx.dev/problems/address-taken"
    title = "Address already registered"

    def __init__(self) -> None:
        super().__init__(
            "This e-mail address already has an account: sign in, or reset your password. "
            "We sent you a mail with the link."
        )


@router.post(
    "/auth/register",
    status_code=202,
    responses={**problems({422: "Invalid e-mail, password or display name"}), **_UNAVAILABLE},
)
async def register(body: RegisterRequest, runtime: RuntimeDep) -> RegistrationAccepted:
    """Start a sign-up: every call its own run. The answer (and its timing) is the same whether
    the address is new, has a sign-up pending or an account; the address is told by mail."""
    settings = runtime.settings
    try:
        with workflow_calls.mapped(_START_ERRORS):
            workflow_id = await start_sign_up(
                runtime.temporal,
                settings.task_queue(ServiceName.auth),
                email=body.email,
                password=body.password,
                display_name=body.display_name,
                verification_timeout_seconds=settings.auth_verification_hours * 3600,
            )
    except InvalidRegistrationError as error:
        raise InvalidInputError(str(error)) from error
    return RegistrationAccepted(workflow_id=workflow_id)


@router.post(
    "/auth/verify-email",
    responses={
        **_INVALID_LINK,
        **problems(
            {
                400: "Invalid, spent or expired token (one answer for all); or `code` "
                "PASSWORD_REQUIRED: more than one sign-up was made with this address, send the "
                "password chosen at this link's sign-up",
                403: "`code` PASSWORD_MISMATCH: this link's sign-up was made with another "
                "password (nothing was created; the link stays valid)",
                409: "The address was registered by another sign-up first",
                429: "Too many wrong passwords for this link; retry after `Retry-After`",
                422: "This sign-up could not be completed",
            }
        ),
        **_UNAVAILABLE,
    },
)
async def verify_email(
    body: VerifyEmailRequest, runtime: RuntimeDep, client: ClientDep
) -> VerifyEmailResponse:
    """Redeem a verification link. A per-sign-up link names its run (no lookup); older runs'
    tokens are found in the database. While more than one sign-up of the address waits, the
    link also needs the password chosen at its own sign-up (``registration/contested.py``)."""
    workflow_id = link_workflow_id(body.token)
    if workflow_id is not None:
        await require_password_if_contested(
            runtime, workflow_id, body.token, body.password, client.ip
        )
    result = await redeem(
        runtime,
        body.token,
        purpose=TokenPurpose.verify_email,
        update=VERIFY_EMAIL_UPDATE,
        argument=lambda token_hash: VerifyEmailInput(token_hash=token_hash),
        result_type=VerifyEmailResult,
        workflow_id=workflow_id,
    )
    if result.status == RegistrationStatus.address_taken:
        raise AddressTakenError()
    if result.status == RegistrationStatus.failed:
        raise InvalidInputError("This sign-up could not be completed; please sign up again.")
    return VerifyEmailResponse(status=result.status)
