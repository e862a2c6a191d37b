"""user_registration on the real dev server: verification by the mailed link, the deadline that
removes an unverified account, compensation, a second sign-up that reveals nothing, tokens that
work once and expire, and the committed histories (v1 and v2)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from services.auth.activities import AuthActivities
from services.auth.opaque import hash_token
from services.auth.passwords import verify_password
from services.auth.runtime import runtime_for
from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import Settings
from storage.auth.models import Credential, OneTimeToken
from storage.db import transaction
from storage.users.models import Profile
from tests.auth.mail_flows import (
    auth_api,
    link_token,
    outbox_mails,
    plain_text,
    record_history,
    wait_for_outbox,
)
from workflows.auth.contracts import CreateCredentialsInput
from workflows.auth.user_registration import (
    WORKFLOW_NAME,
    RegistrationInput,
    RegistrationResult,
    registration_workflow_id,
)
from workflows.common.progress import PROGRESS_QUERY, Progress

PASSWORD = "a long enough password"
#: Long enough to never expire within a test that verifies.
PATIENT = 300.0

Handle = WorkflowHandle[object, RegistrationResult]


def unique_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


async def start(
    client: Client,
    prefix: str,
    email: str,
    *,
    password: str = PASSWORD,
    display_name: str = "Ada",
    timeout: float = PATIENT,
) -> Handle:
    return await client.start_workflow(
        WORKFLOW_NAME,
        RegistrationInput(email, password, display_name, verification_timeout_seconds=timeout),
        id=registration_workflow_id(email),
        task_queue=f"{prefix}-auth",
        result_type=RegistrationResult,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def progress_of(handle: Handle) -> Progress:
    return await handle.query(PROGRESS_QUERY, result_type=Progress)


async def until_waiting(handle: Handle, timeout: float = 30) -> Progress:
    deadline = time.monotonic() + timeout
    while (progress := await progress_of(handle)).state != "waiting":
        assert time.monotonic() < deadline, f"never waited: {progress}"
        await asyncio.sleep(0.05)
    return progress


async def count(resources: Resources, model: type[Credential] | type[Profile], email: str) -> int:
    async with transaction(resources.sessions) as session:
        found = await session.scalar(select(func.count()).where(model.email == email))
        return int(found or 0)


async def credential(resources: Resources, email: str) -> Credential | None:
    async with transaction(resources.sessions) as session:
        return await session.scalar(select(Credential).where(Credential.email == email))


@pytest.fixture
async def api(
    auth_resources: Resources, in_process_workers: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The auth API starting workflows on the in-process workers' queues."""
    async with auth_api(auth_resources, task_queue_prefix=in_process_workers) as client:
        yield client


async def mailed_token(settings: Settings, email: str, nth: int = 1) -> str:
    mails = await wait_for_outbox(settings, email, count=nth)
    return link_token(plain_text(mails[nth - 1]), "/verify-email")


async def verify(api: httpx.AsyncClient, token: str) -> httpx.Response:
    return await api.post("/auth/verify-email", json={"token": token})


async def register_and_verify(
    temporal: Client, prefix: str, api: httpx.AsyncClient, settings: Settings, email: str
) -> RegistrationResult:
    handle = await start(temporal, prefix, email)
    response = await verify(api, await mailed_token(settings, email))
    assert response.status_code == 200, response.text
    return await handle.result()


async def test_registration_verifies_the_address_through_the_mailed_link(
    temporal: Client,
    in_process_workers: str,
    api: httpx.AsyncClient,
    settings: Settings,
    auth_resources: Resources,
    user_resources: Resources,
) -> None:
    email = unique_email()
    handle = await start(temporal, in_process_workers, email)

    waiting = await until_waiting(handle)
    assert (waiting.step, waiting.total, waiting.percent, waiting.label) == (
        3,
        4,
        75,
        "waiting for e-mail verification",
    )
    pending = await credential(auth_resources, email)
    assert pending is not None and not pending.email_verified
    assert await count(user_resources, Profile, email) == 1
    [mail] = outbox_mails(settings, email)
    text = plain_text(mail)
    token = link_token(text, "/verify-email")
    assert f"{settings.public_url}/verify-email?token={token}" in text
    async with transaction(auth_resources.sessions) as db:
        [row] = (
            await db.scalars(select(OneTimeToken).where(OneTimeToken.user_id == pending.id))
        ).all()
    assert (row.purpose, row.workflow_id, row.used_at) == ("verify_email", handle.id, None)
    assert row.token_hash == hash_token(token) and token not in repr(vars(row)), "stored raw"

    response = await verify(api, token)

    assert response.status_code == 200, response.text
    assert response.json() == {"status": "verified"}
    result = await handle.result()
    assert result == RegistrationResult(status="verified", email=email)
    verified = await credential(auth_resources, email)
    assert verified is not None and verified.email_verified
    final = await progress_of(handle)
    assert (final.step, final.total, final.percent, final.state) == (4, 4, 100, "completed")
    await record_history(handle, "user_registration.v2")


async def test_a_verification_link_works_once_even_when_clicked_concurrently(
    temporal: Client, in_process_workers: str, api: httpx.AsyncClient, settings: Settings
) -> None:
    email = unique_email()
    handle = await start(temporal, in_process_workers, email)
    token = await mailed_token(settings, email)

    answers = await asyncio.gather(*(verify(api, token) for _ in range(5)))
    later = await verify(api, token)
    unknown = await verify(api, "x" * 43)

    assert sorted(a.status_code for a in answers) == [200, 400, 400, 400, 400]
    assert later.status_code == unknown.status_code == 400
    assert later.json() == unknown.json(), "a spent token must look like an unknown one"
    assert later.headers["content-type"] == "application/problem+json"
    assert (await handle.result()).status == "verified"


async def test_deadline_removes_the_unverified_account(
    temporal: Client,
    in_process_workers: str,
    api: httpx.AsyncClient,
    settings: Settings,
    auth_resources: Resources,
    user_resources: Resources,
) -> None:
    email = unique_email()
    handle = await start(temporal, in_process_workers, email, timeout=2)
    token = await mailed_token(settings, email)

    result = await handle.result()

    assert result == RegistrationResult(status="expired", email=email)
    assert await count(auth_resources, Credential, email) == 0, "unverified account kept"
    assert await count(user_resources, Profile, email) == 0, "profile of removed account kept"
    async with transaction(auth_resources.sessions) as db:
        left = await db.scalar(select(func.count()).where(OneTimeToken.workflow_id == handle.id))
    assert left == 0
    late = await verify(api, token)
    assert late.status_code == 400 and late.json() == (await verify(api, "y" * 43)).json()
    final = await progress_of(handle)
    assert (final.label, final.state, final.percent) == ("verification expired", "completed", 100)
    await record_history(handle, "user_registration.v2-expired")


async def test_an_expired_token_is_refused_while_the_run_still_waits(
    temporal: Client,
    in_process_workers: str,
    api: httpx.AsyncClient,
    settings: Settings,
    auth_resources: Resources,
) -> None:
    email = unique_email()
    handle = await start(temporal, in_process_workers, email)
    token = await mailed_token(settings, email)
    async with transaction(auth_resources.sessions) as db:
        await db.execute(
            update(OneTimeToken)
            .where(OneTimeToken.workflow_id == handle.id)
            .values(expires_at=func.now() - timedelta(seconds=1))
        )

    response = await verify(api, token)

    assert response.status_code == 400
    assert response.json() == (await verify(api, "z" * 43)).json()
    assert (await progress_of(handle)).state == "waiting"
    still = await credential(auth_resources, email)
    assert still is not None and not still.email_verified
    await handle.terminate("test done")


async def test_failed_profile_step_removes_credentials(
    temporal: Client,
    in_process_workers: str,
    settings: Settings,
    auth_resources: Resources,
    user_resources: Resources,
) -> None:
    email = unique_email()
    # A blank display name passes the credentials step and fails the profile step for good.
    handle = await start(temporal, in_process_workers, email, display_name="   ")

    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    assert isinstance(failure.value.cause, ApplicationError)
    assert failure.value.cause.type == "RegistrationFailed"
    assert await count(auth_resources, Credential, email) == 0, "compensation left credentials"
    assert await count(user_resources, Profile, email) == 0
    assert (await progress_of(handle)).state == "failed"
    assert outbox_mails(settings, email) == [], "no verification mail for a failed sign-up"
    await record_history(handle, "user_registration.v2-rolled-back")


async def test_signing_up_again_with_a_verified_address_reveals_nothing(
    temporal: Client,
    in_process_workers: str,
    api: httpx.AsyncClient,
    settings: Settings,
    auth_resources: Resources,
) -> None:
    owner = unique_email()
    await register_and_verify(temporal, in_process_workers, api, settings, owner)
    stranger = unique_email()  # a new address, for the picture of an ordinary sign-up

    again = await start(
        temporal, in_process_workers, owner, password="the intruder's pw", timeout=2
    )
    fresh = await start(temporal, in_process_workers, stranger, timeout=2)
    seen_again, seen_fresh = await until_waiting(again), await until_waiting(fresh)
    result_again, result_fresh = await again.result(), await fresh.result()

    # What the requester can read (progress, result) is the same as for a new address.
    assert seen_again == seen_fresh
    assert replace(result_again, email="") == replace(result_fresh, email="")
    assert result_again.user_id is None and result_again.status == "expired"
    # The owner hears about it; the account is untouched.
    notice = (await wait_for_outbox(settings, owner, count=2))[1]
    assert notice["Subject"] == "Someone tried to sign up with your e-mail address"
    assert "token=" not in plain_text(notice)
    account = await credential(auth_resources, owner)
    assert account is not None and account.email_verified
    assert await verify_password(account.password_hash, PASSWORD)
    assert await count(auth_resources, Credential, owner) == 1
    await record_history(again, "user_registration.v2-address-taken")


async def test_signing_up_twice_while_running_joins_the_run(
    temporal: Client, in_process_workers: str, settings: Settings, auth_resources: Resources
) -> None:
    email = unique_email()
    first, second = await asyncio.gather(
        start(temporal, in_process_workers, email),
        start(temporal, in_process_workers, email, password="another password"),
    )
    await until_waiting(first)
    assert first.id == second.id
    assert (await first.describe()).run_id == (await second.describe()).run_id
    assert await count(auth_resources, Credential, email) == 1
    await asyncio.sleep(0.5)
    assert len(outbox_mails(settings, email)) == 1
    await first.terminate("test done")


async def test_invalid_email_is_a_non_retryable_business_error(
    temporal: Client, in_process_workers: str
) -> None:
    handle = await start(temporal, in_process_workers, "not-an-email")
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert getattr(failure.value.cause, "type", None) == "InvalidInput"


@acting_as(SecurityContext.system("test"))
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
