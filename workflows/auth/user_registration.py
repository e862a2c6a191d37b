"""``user_registration``: credentials (auth) + profile (user), compensated when a later step fails.

This is the start of sign-up; e-mail verification with a deadline is added by the auth issue.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.auth.contracts import (
        CREATE_CREDENTIALS,
        DELETE_CREDENTIALS,
        CreateCredentialsInput,
        CreateCredentialsOutput,
        DeleteCredentialsInput,
        DeleteCredentialsOutput,
    )
    from workflows.common.calls import call_activity
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.user.contracts import CREATE_PROFILE, CreateProfileInput, CreateProfileOutput

WORKFLOW_NAME = "user_registration"


@dataclass
class RegistrationInput:
    email: str
    password: str
    display_name: str


@dataclass
class RegistrationResult:
    user_id: str
    email: str
    display_name: str
    status: str


def registration_workflow_id(email: str) -> str:
    """One registration per e-mail at a time; the id does not reveal the address."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"user-registration-{digest}"


@workflow.defn(name=WORKFLOW_NAME)
class UserRegistrationWorkflow:
    def __init__(self) -> None:
        self._progress = ProgressTracker(total=2)

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.run
    async def run(self, input: RegistrationInput) -> RegistrationResult:
        info = workflow.info()
        user_id = str(workflow.uuid4())
        key = f"{info.workflow_id}:{info.run_id}"

        self._progress.advance(0, "creating credentials")
        try:
            await self._create_credentials(input, user_id, key)
        except ActivityError as error:
            self._progress.set_state(ProgressState.failed, "credentials could not be created")
            raise _as_business_failure(error) from error

        self._progress.advance(1, "creating profile")
        try:
            await call_activity(
                CREATE_PROFILE,
                CreateProfileInput(
                    user_id=user_id,
                    email=input.email,
                    display_name=input.display_name,
                    idempotency_key=f"{key}:profile",
                ),
                service="user",
                result_type=CreateProfileOutput,
            )
        except ActivityError as error:
            # Saga: undo the credentials so a failed sign-up leaves nothing behind.
            self._progress.set_state(ProgressState.compensating, "removing credentials")
            await call_activity(
                DELETE_CREDENTIALS,
                DeleteCredentialsInput(user_id=user_id, idempotency_key=f"{key}:credentials:undo"),
                service="auth",
                result_type=DeleteCredentialsOutput,
            )
            self._progress.set_state(ProgressState.failed, "profile could not be created")
            raise ApplicationError(
                "registration failed and was rolled back",
                type="RegistrationFailed",
                non_retryable=True,
            ) from error

        self._progress.advance(2, "registered", ProgressState.completed)
        return RegistrationResult(
            user_id=user_id,
            email=input.email,
            display_name=input.display_name,
            status="pending_verification",
        )

    async def _create_credentials(
        self, input: RegistrationInput, user_id: str, key: str
    ) -> CreateCredentialsOutput:
        return await call_activity(
            CREATE_CREDENTIALS,
            CreateCredentialsInput(
                user_id=user_id,
                email=input.email,
                password=input.password,
                idempotency_key=f"{key}:credentials",
            ),
            service="auth",
            result_type=CreateCredentialsOutput,
        )


def _as_business_failure(error: ActivityError) -> ApplicationError:
    """Surface the activity's business error type (e.g. ``EmailTaken``) as the workflow's own."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return ApplicationError(cause.message, type=cause.type, non_retryable=True)
    return ApplicationError("registration failed", type="RegistrationFailed", non_retryable=True)
