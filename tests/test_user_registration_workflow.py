"""user_registration on the real dev server: happy path, compensation, duplicates, idempotency."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from services.auth.activities import AuthActivities
from services.auth.runtime import runtime_for
from services.common.resources import Resources
from storage.auth.models import Credential
from storage.db import transaction
from storage.users.models import Profile
from workflows.auth.contracts import CreateCredentialsInput
from workflows.auth.user_registration import (
    WORKFLOW_NAME,
    RegistrationInput,
    RegistrationResult,
    registration_workflow_id,
)
from workflows.common.progress import PROGRESS_QUERY, Progress

HISTORIES = Path(__file__).parent / "histories"


def unique_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


async def start(client: Client, prefix: str, registration: RegistrationInput):  # type: ignore[no-untyped-def]
    return await client.start_workflow(
        WORKFLOW_NAME,
        registration,
        id=registration_workflow_id(registration.email),
        task_queue=f"{prefix}-auth",
        result_type=RegistrationResult,
    )


async def count(resources: Resources, model: type, email: str) -> int:
    async with transaction(resources.sessions) as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(model).where(model.email == email)
            )  # type: ignore[attr-defined]
        )


async def test_registration_writes_credentials_and_profile(
    temporal: Client, in_process_workers: str, auth_resources: Resources, user_resources: Resources
) -> None:
    email = unique_email()
    handle = await start(
        temporal, in_process_workers, RegistrationInput(email, "a long enough password", "Ada")
    )

    result = await handle.result()

    assert result.email == email and result.status == "pending_verification"
    assert await count(auth_resources, Credential, email) == 1
    assert await count(user_resources, Profile, email) == 1
    progress = await handle.query(PROGRESS_QUERY, result_type=Progress)
    assert (progress.step, progress.total, progress.percent, progress.state) == (
        2,
        2,
        100,
        "completed",
    )
    if os.environ.get("ADX_RECORD_HISTORIES") == "1":
        history = await handle.fetch_history()
        (HISTORIES / "user_registration.json").write_text(history.to_json())


async def test_failed_profile_step_removes_credentials(
    temporal: Client, in_process_workers: str, auth_resources: Resources, user_resources: Resources
) -> None:
    email = unique_email()
    # A blank display name passes the credentials step and fails the profile step for good.
    handle = await start(
        temporal, in_process_workers, RegistrationInput(email, "a long enough password", "   ")
    )

    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    assert isinstance(failure.value.cause, ApplicationError)
    assert failure.value.cause.type == "RegistrationFailed"
    assert await count(auth_resources, Credential, email) == 0, "compensation left credentials"
    assert await count(user_resources, Profile, email) == 0
    progress = await handle.query(PROGRESS_QUERY, result_type=Progress)
    assert progress.state == "failed"


async def test_second_registration_of_an_email_fails_without_a_second_account(
    temporal: Client, in_process_workers: str, auth_resources: Resources
) -> None:
    email = unique_email()
    first = await start(
        temporal, in_process_workers, RegistrationInput(email, "password one!", "A")
    )
    await first.result()

    second = await start(
        temporal, in_process_workers, RegistrationInput(email, "password two!", "B")
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await second.result()

    assert getattr(failure.value.cause, "type", None) == "EmailTaken"
    assert await count(auth_resources, Credential, email) == 1


async def test_invalid_email_is_a_non_retryable_business_error(
    temporal: Client, in_process_workers: str
) -> None:
    handle = await start(
        temporal, in_process_workers, RegistrationInput("not-an-email", "long enough pw", "A")
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert getattr(failure.value.cause, "type", None) == "InvalidInput"


async def test_create_credentials_is_idempotent_per_key(auth_resources: Resources) -> None:
    activities = AuthActivities(runtime_for(auth_resources))
    email = unique_email()
    request = CreateCredentialsInput(
        str(uuid.uuid4()), email, "a long enough password", "wf:1:cred"
    )

    first = await activities.create_credentials(request)
    again = await activities.create_credentials(request)  # a retried activity

    assert (first.created, again.created) == (True, False)
    assert await count(auth_resources, Credential, email) == 1
