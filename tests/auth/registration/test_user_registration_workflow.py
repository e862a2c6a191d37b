"""user_registration on the real dev server: one run per sign-up, the account created only when
the run's own mailed link is redeemed (verified, with that run's password hash), the deadline
that leaves nothing behind, compensation, sign-ups of a taken or pending address that reveal
nothing and steal nothing, links that work once, and the committed histories (v1, v2, v3)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.auth.accounts.activities import AccountActivities
from services.auth.opaque import hash_token
from services.auth.passwords import hash_password, verify_password
from services.auth.registration import links
from services.auth.registration.activities import RegistrationActivities
from services.auth.runtime import runtime_for
from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import Settings
from services.common.temporal import build_worker
from services.user.activities import UserActivities
from storage.auth.models import Credential
from storage.db import transaction
from storage.users.models import Profile
from tests.auth.mail_flows import (
    auth_api,
    link_token,
    outbox_mails,
    plain_text,
    private_workers,
    record_history,
    wait_for_outbox,
)
from workflows.auth.contracts import (
    SEND_REGISTRATION_MAIL,
    AuthWorkflow,
    CreateCredentialsInput,
    SendRegistrationMailInput,
    SendRegistrationMailOutput,
)
from workflows.auth.user_registration import (
    RegistrationInput,
    RegistrationResult,
    UserRegistrationWorkflow,
    new_registration_id,
)
from workflows.common.progress import PROGRESS_QUERY, Progress

PASSWORD = "a long enough password"
#: Long enough to never expire within a test that verifies.
PATIENT = 300.0
#: A well-formed argon2id hash below the service's parameters: refused by create_credentials.
WEAK_HASH = "$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$qycKPyi27uhu+mhCRwakhtXC8/wHwdOQpAybTlriXv8"

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
    password_hash: str | None = None,
) -> Handle:
    """A sign-up as the entry points start it: its own run, the password's hash only."""
    return await client.start_workflow(
        AuthWorkflow.USER_REGISTRATION,
        RegistrationInput(
            email,
            display_name=display_name,
            verification_timeout_seconds=timeout,
            password_hash=password_hash or await hash_password(password),
        ),
        id=new_registration_id(email),
        task_queue=f"{prefix}-auth",
        result_type=RegistrationResult,
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
    async with transaction(resources.database) as session:
        found = await session.scalar(select(func.count()).where(model.email == email))
        return int(found or 0)


async def credential(resources: Resources, email: str) -> Credential | None:
    async with transaction(resources.database) as session:
        return await session.scalar(select(Credential).where(Credential.email == email))


async def profile_name(resources: Resources, email: str) -> list[str]:
    async with transaction(resources.database) as session:
        return list(
            await session.scalars(select(Profile.display_name).where(Profile.email == email))
        )


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


async def tokens_by_run(settings: Settings, email: str, *handles: Handle) -> dict[str, str]:
    """The link each run mailed ``email``, by run id (a link token starts with its run's id),
    whatever order the mails came out in."""
    mailed = [await mailed_token(settings, email, nth) for nth in range(1, len(handles) + 1)]
    tokens = {t[:64]: t for t in mailed}
    return {h.id: tokens[h.id.removeprefix("user-registration-").replace("-", "")] for h in handles}


async def verify(api: httpx.AsyncClient, token: str, password: str | None = None) -> httpx.Response:
    """Redeem a link; ``password`` for a contested address (more than one sign-up waiting)."""
    body = {"token": token} if password is None else {"token": token, "password": password}
    return await api.post("/auth/verify-email", json=body)


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
    # Nothing exists before the run's own link is redeemed.
    assert await credential(auth_resources, email) is None
    assert await count(user_resources, Profile, email) == 0
    [mail] = outbox_mails(settings, email)
    text = plain_text(mail)
    token = link_token(text, "/verify-email")
    assert f"{settings.public_url}/verify-email?token={token}" in text
    assert token.startswith(handle.id.removeprefix("user-registration-").replace("-", ""))

    response = await verify(api, token)

    assert response.status_code == 200, response.text
    assert response.json() == {"status": "verified"}
    result = await handle.result()
    assert result == RegistrationResult(status="verified", email=email)
    verified = await credential(auth_resources, email)
    assert verified is not None and verified.email_verified
    assert await verify_password(verified.password_hash, PASSWORD)
    assert await profile_name(user_resources, email) == ["Ada"]
    final = await progress_of(handle)
    assert (final.step, final.total, final.percent, final.state) == (4, 4, 100, "completed")
    await record_history(handle, "user_registration.v3")


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


async def test_deadline_leaves_nothing_behind(
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
    assert await count(user_resources, Profile, email) == 0
    late = await verify(api, token)
    assert late.status_code == 400 and late.json() == (await verify(api, "y" * 43)).json()
    final = await progress_of(handle)
    assert (final.label, final.state, final.percent) == ("verification expired", "completed", 100)
    await record_history(handle, "user_registration.v3-expired")


async def test_a_link_clicked_before_its_mail_step_returned_still_works(
    temporal: Client,
    settings: Settings,
    api: httpx.AsyncClient,
    auth_resources: Resources,
    user_resources: Resources,
) -> None:
    """The mail is in the mailbox before the mail step's result reaches the run: a click in
    that window waits for the step instead of being refused."""
    prefix = f"slow{uuid.uuid4().hex[:8]}"
    local = settings.model_copy(update={"task_queue_prefix": prefix})
    real = RegistrationActivities(runtime_for(auth_resources))

    @SEND_REGISTRATION_MAIL.implement
    async def slow_mail(input: SendRegistrationMailInput) -> SendRegistrationMailOutput:
        sent = await real.send_registration_mail(input)
        await asyncio.sleep(3)  # the result is late; the mail is already out
        return sent

    others = [
        *AccountActivities(runtime_for(auth_resources)).all(),
        *(a for a in real.all() if getattr(a, "__name__", "") != "send_registration_mail"),
    ]
    workers = [
        build_worker(
            temporal,
            local,
            task_queue=f"{prefix}-auth",
            workflows=[UserRegistrationWorkflow],
            activities=[*others, slow_mail],
        ),
        build_worker(
            temporal,
            local,
            task_queue=f"{prefix}-user",
            activities=UserActivities(user_resources).all(),
        ),
    ]
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        email = unique_email()
        handle = await start(temporal, prefix, email)
        token = await mailed_token(settings, email)
        early = await progress_of(handle)

        clicked = await verify(api, token)

        assert early.label == "sending verification e-mail" and early.state == "running", early
        assert clicked.status_code == 200, clicked.text
        assert (await handle.result()).status == "verified"
    finally:
        await asyncio.gather(*(worker.shutdown() for worker in workers))
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_link_opens_only_the_run_that_mailed_it(
    temporal: Client, in_process_workers: str, api: httpx.AsyncClient, settings: Settings
) -> None:
    email = unique_email()
    first = await start(temporal, in_process_workers, email)
    second = await start(temporal, in_process_workers, email)
    token_of = await tokens_by_run(settings, email, first, second)
    first_token, second_token = token_of[first.id], token_of[second.id]
    # The first run's id with the second run's secret: the right run, the wrong link.
    forged = first_token[:64] + second_token[64:]

    refused = await verify(api, forged)

    assert refused.status_code == 400
    assert refused.json() == (await verify(api, "q" * 43)).json()
    assert (await progress_of(first)).state == "waiting"
    # Two sign-ups wait for the address: the link needs its own sign-up's password.
    assert (await verify(api, first_token, PASSWORD)).status_code == 200
    assert (await first.result()).status == "verified"
    await second.terminate("test done")


async def test_a_failed_profile_step_leaves_nothing_behind(
    temporal: Client,
    in_process_workers: str,
    api: httpx.AsyncClient,
    settings: Settings,
    auth_resources: Resources,
    user_resources: Resources,
) -> None:
    email = unique_email()
    # A blank display name (the entry points refuse it) fails the profile step for good.
    handle = await start(temporal, in_process_workers, email, display_name="   ")

    clicked = await verify(api, await mailed_token(settings, email))
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    assert clicked.status_code == 422, clicked.text
    assert isinstance(failure.value.cause, ApplicationError)
    assert failure.value.cause.type == "RegistrationFailed"
    assert await count(auth_resources, Credential, email) == 0
    assert await count(user_resources, Profile, email) == 0
    assert (await progress_of(handle)).state == "failed"


async def test_a_refused_hash_rolls_the_profile_back(
    temporal: Client,
    in_process_workers: str,
    api: httpx.AsyncClient,
    settings: Settings,
    auth_resources: Resources,
    user_resources: Resources,
) -> None:
    email = unique_email()
    # Below the service's argon2 parameters: the credentials step refuses it after the profile.
    handle = await start(temporal, in_process_workers, email, password_hash=WEAK_HASH)

    clicked = await verify(api, await mailed_token(settings, email))
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    assert clicked.status_code == 422, clicked.text
    assert getattr(failure.value.cause, "type", None) == "RegistrationFailed"
    assert await count(auth_resources, Credential, email) == 0, "credentials from a weak hash"
    assert await count(user_resources, Profile, email) == 0, "compensation left the profile"
    assert (await progress_of(handle)).state == "failed"
    await record_history(handle, "user_registration.v3-rolled-back")


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
    await record_history(again, "user_registration.v3-existing-account")


async def test_signing_up_twice_while_pending_starts_two_runs(
    temporal: Client,
    in_process_workers: str,
    api: httpx.AsyncClient,
    settings: Settings,
    auth_resources: Resources,
    user_resources: Resources,
) -> None:
    """Formerly "joins the run" (the pre-hijack of issue 6): now each sign-up is its own run
    with its own link; the first link redeemed owns the address, the other run ends as
    ``address_taken`` and its clicker is told by the notice mail."""
    email = unique_email()
    first, second = await asyncio.gather(
        start(temporal, in_process_workers, email, display_name="First"),
        start(temporal, in_process_workers, email, password="another password", display_name="B"),
    )
    await until_waiting(first)
    await until_waiting(second)
    assert first.id != second.id
    assert await count(auth_resources, Credential, email) == 0
    token_of = await tokens_by_run(settings, email, first, second)

    # Contested: each link needs the password of its own sign-up (docs/auth.md).
    won = await verify(api, token_of[second.id], "another password")
    lost = await verify(api, token_of[first.id])  # the address has an account now: no password

    assert won.status_code == 200, won.text
    assert lost.status_code == 409, lost.text
    assert lost.json()["title"] == "Address already registered"
    assert (await second.result()).status == "verified"
    assert (await first.result()).status == "address_taken"
    account = await credential(auth_resources, email)
    assert account is not None and account.email_verified
    assert await verify_password(account.password_hash, "another password")
    assert not await verify_password(account.password_hash, PASSWORD)
    assert await profile_name(user_resources, email) == ["B"], "the loser's profile was kept"
    notice = (await wait_for_outbox(settings, email, count=3))[2]
    assert notice["Subject"] == "Someone tried to sign up with your e-mail address"
    await record_history(first, "user_registration.v3-address-taken")


async def test_sign_up_mails_to_one_address_are_capped_after_the_answer(
    temporal: Client, settings: Settings, auth_resources: Resources, user_resources: Resources
) -> None:
    """Sign-ups no longer join each other, so each would mail the address: beyond
    ``ADX_AUTH_SIGNUP_MAILS_PER_ADDRESS`` per window a run sends nothing (it was answered like
    any other) and just waits out its deadline."""
    async with private_workers(
        auth_resources, user_resources, auth_signup_mails_per_address=2
    ) as resources:
        prefix = resources.settings.task_queue_prefix
        email = unique_email()
        runs = [await start(temporal, prefix, email, timeout=3) for _ in range(3)]
        seen = [await until_waiting(run) for run in runs]
        results = [await run.result() for run in runs]

    assert len({(p.step, p.label, p.state) for p in seen}) == 1, "the capped run looks different"
    assert {r.status for r in results} == {"expired"}
    assert len(outbox_mails(settings, email)) == 2


async def test_invalid_email_is_a_non_retryable_business_error(
    temporal: Client, in_process_workers: str
) -> None:
    handle = await start(temporal, in_process_workers, "not-an-email")
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert getattr(failure.value.cause, "type", None) == "InvalidInput"


async def test_a_run_started_with_a_plaintext_password_is_refused(
    temporal: Client, in_process_workers: str, settings: Settings
) -> None:
    email = unique_email()
    handle = await temporal.start_workflow(
        AuthWorkflow.USER_REGISTRATION,
        RegistrationInput(email, PASSWORD, "Ada", verification_timeout_seconds=PATIENT),
        id=new_registration_id(email),
        task_queue=f"{in_process_workers}-auth",
        result_type=RegistrationResult,
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert getattr(failure.value.cause, "type", None) == "InvalidInput"
    assert outbox_mails(settings, email) == []


@acting_as(SecurityContext.system("test"))
async def test_create_credentials_is_idempotent_per_key(auth_resources: Resources) -> None:
    activities = RegistrationActivities(runtime_for(auth_resources))
    email = unique_email()
    request = CreateCredentialsInput(
        str(uuid.uuid4()), email, "a long enough password", "wf:1:cred"
    )

    first = await activities.create_credentials(request)
    again = await activities.create_credentials(request)  # a retried activity

    assert (first.created, again.created) == (True, False)
    assert await count(auth_resources, Credential, email) == 1


@acting_as(SecurityContext.system("test"))
async def test_create_credentials_stores_only_well_formed_argon2id_hashes(
    auth_resources: Resources,
) -> None:
    activities = RegistrationActivities(runtime_for(auth_resources))
    email = unique_email()
    good = await hash_password(PASSWORD)

    def request(**fields: object) -> CreateCredentialsInput:
        values: dict[str, object] = {
            "user_id": str(uuid.uuid4()),
            "email": email,
            "password": None,
            "idempotency_key": f"wf:{uuid.uuid4().hex}:cred",
            **fields,
        }
        return CreateCredentialsInput(**values)  # type: ignore[arg-type]

    for bad in ("plain text", WEAK_HASH, "$argon2i$v=19$m=19456,t=2,p=1$x$y", ""):
        with pytest.raises(ApplicationError) as refused:
            await activities.create_credentials(request(password_hash=bad))
        assert refused.value.type == "InvalidInput"
        assert not bad or bad not in str(refused.value), "the hash was echoed"
    with pytest.raises(ApplicationError):
        await activities.create_credentials(request(password=PASSWORD, password_hash=good))
    created = await activities.create_credentials(
        request(password_hash=good, verification_token_hash="0" * 64)
    )

    assert created.created
    account = await credential(auth_resources, email)
    assert account is not None and account.password_hash == good and account.email_verified


def as_registration_run(workflow_id: str, run_id: str) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = replace(
        env.info,
        workflow_id=workflow_id,
        workflow_run_id=run_id,
        workflow_type=AuthWorkflow.USER_REGISTRATION,
    )
    return env


@acting_as(SecurityContext.anonymous())
async def test_create_credentials_from_a_hash_needs_this_runs_own_redeemed_link(
    auth_resources: Resources,
) -> None:
    """The activity checks the workflow: an anonymous registration run gets a verified account
    only for the address it was started for, and only with the hash of the link mailed for
    this very run (not another run's, not a made-up one)."""
    runtime = runtime_for(auth_resources)
    activities = RegistrationActivities(runtime)
    email, other = unique_email(), unique_email()
    workflow_id, run_id = new_registration_id(email), str(uuid.uuid4())
    key = links.link_keys(runtime.settings)[0]
    own_link = hash_token(links.link_token(key, workflow_id, run_id))
    other_run = hash_token(links.link_token(key, workflow_id, str(uuid.uuid4())))
    good = await hash_password(PASSWORD)

    def request(address: str, proof: str | None) -> CreateCredentialsInput:
        return CreateCredentialsInput(
            str(uuid.uuid4()),
            address,
            None,
            f"{workflow_id}:{run_id}:credentials:{uuid.uuid4().hex[:6]}",
            password_hash=good,
            verification_token_hash=proof,
        )

    env = as_registration_run(workflow_id, run_id)
    refusals = []
    for address, proof in ((other, own_link), (email, other_run), (email, "0" * 64), (email, None)):
        with pytest.raises(ApplicationError) as refused:
            await env.run(activities.create_credentials, request(address, proof))
        refusals.append(refused.value.type)
    created = await env.run(activities.create_credentials, request(email, own_link))

    assert refusals == ["SecurityContextDenied"] * 4
    assert await credential(auth_resources, other) is None
    assert created.created
    account = await credential(auth_resources, email)
    assert account is not None and account.email_verified and account.password_hash == good


@acting_as(SecurityContext.anonymous())
async def test_a_registration_run_mails_only_its_own_address(auth_resources: Resources) -> None:
    activities = RegistrationActivities(runtime_for(auth_resources))
    email, victim = unique_email(), unique_email()
    workflow_id, run_id = new_registration_id(email), str(uuid.uuid4())
    env = as_registration_run(workflow_id, run_id)
    mail = SendRegistrationMailInput(email=victim, idempotency_key=f"{workflow_id}:{run_id}:m")

    with pytest.raises(ApplicationError) as refused:
        await env.run(activities.send_registration_mail, mail)
    foreign_key = replace(mail, email=email, idempotency_key="another-run:1:mail")
    with pytest.raises(ApplicationError) as borrowed:
        await env.run(activities.send_registration_mail, foreign_key)

    assert refused.value.type == borrowed.value.type == "SecurityContextDenied"
    assert "only the address it was started for" in str(refused.value)
