"""``POST /auth/register`` and ``POST /auth/verify-email`` end to end, with the mail delivered by
SMTP to a real sink (aiosmtpd): the link works, once; every sign-up is its own run; a taken
address answers like a free one; bad input is a 4xx problem that starts nothing."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from storage.auth.models import Credential
from storage.db import transaction
from tests.auth.bad_input import MALFORMED
from tests.auth.mail_flows import SmtpSink, auth_api, link_token
from tests.auth.users import create_user
from tests.problems import JSON, as_json, assert_problem, oversize
from workflows.auth.user_registration import (
    RegistrationResult,
    is_registration_for,
    registration_workflow_id,
)

PASSWORD = "a long enough password"


def unique_email() -> str:
    return f"reg-{uuid.uuid4().hex[:12]}@example.com"


def sign_up(email: str, **overrides: object) -> dict[str, object]:
    return {"email": email, "password": PASSWORD, "display_name": "Ada", **overrides}


async def credentials(resources: Resources, email: str) -> int:
    async with transaction(resources.database) as db:
        return int(await db.scalar(select(func.count()).where(Credential.email == email)) or 0)


async def assert_nothing_started(resources: Resources, email: str) -> None:
    """No run was started for the address (runs carry its digest in their id)."""
    query = f'WorkflowId STARTS_WITH "{registration_workflow_id(email)}-"'
    started = [run.id async for run in resources.temporal.list_workflows(query)]
    assert started == [], started


async def test_register_mails_a_working_link_over_smtp(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources
) -> None:
    email = unique_email()

    accepted = await api.post("/auth/register", json=sign_up(email))

    assert accepted.status_code == 202, accepted.text
    assert accepted.json().keys() == {"workflow_id", "status"}
    assert accepted.json()["status"] == "accepted"
    assert is_registration_for(accepted.json()["workflow_id"], email)
    [mail] = await sink.wait_for(email)
    assert mail.message["Subject"] == "Confirm your e-mail address"
    public = smtp_resources.settings.public_url
    assert f"{public}/verify-email?token=" in mail.text
    login = {"email": email, "password": PASSWORD}
    assert (await api.post("/auth/login", json=login)).status_code == 401  # not verified yet

    verified = await api.post(
        "/auth/verify-email", json={"token": link_token(mail.text, "/verify-email")}
    )

    assert verified.status_code == 200 and verified.json() == {"status": "verified"}
    handle = smtp_resources.temporal.get_workflow_handle(
        accepted.json()["workflow_id"], result_type=RegistrationResult
    )
    assert (await handle.result()).status == "verified"
    signed_in = await api.post("/auth/login", json=login)
    assert signed_in.status_code == 200 and signed_in.json()["tokens"]["access_token"]


async def test_register_passes_the_verification_deadline_from_settings(
    sink: SmtpSink, smtp_resources: Resources
) -> None:
    email = unique_email()
    async with auth_api(smtp_resources, auth_verification_hours=2 / 3600) as api:
        accepted = await api.post("/auth/register", json=sign_up(email))
    handle = smtp_resources.temporal.get_workflow_handle(
        accepted.json()["workflow_id"], result_type=RegistrationResult
    )

    result = await asyncio.wait_for(handle.result(), timeout=30)

    assert result.status == "expired"
    assert await credentials(smtp_resources, email) == 0
    assert len(sink.to(email)) == 1


async def test_register_twice_at_once_is_two_runs_and_two_mails(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources
) -> None:
    """Was "one run and one mail": the second sign-up joined the first one's run, which is how
    an address was pre-hijacked (issue 6). Now each sign-up is its own run with its own link,
    and no account exists before a link is redeemed."""
    email = unique_email()

    first, second = await asyncio.gather(
        api.post("/auth/register", json=sign_up(email)),
        api.post("/auth/register", json=sign_up(email, password="another long password")),
    )

    assert first.status_code == second.status_code == 202
    assert first.json()["workflow_id"] != second.json()["workflow_id"]
    assert first.json().keys() == second.json().keys()
    mails = await sink.wait_for(email, count=2)
    tokens = {link_token(mail.text, "/verify-email") for mail in mails}
    assert len(tokens) == 2
    assert await credentials(smtp_resources, email) == 0
    for answer in (first, second):
        await smtp_resources.temporal.get_workflow_handle(answer.json()["workflow_id"]).terminate()


async def test_register_with_a_taken_address_answers_like_a_free_one(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources, auth_runtime: AuthRuntime
) -> None:
    owner = await create_user(auth_runtime)
    free = unique_email()

    taken = await api.post("/auth/register", json=sign_up(owner.email))
    fresh = await api.post("/auth/register", json=sign_up(free))

    assert taken.status_code == fresh.status_code == 202
    assert taken.json().keys() == fresh.json().keys()
    assert taken.json()["status"] == fresh.json()["status"]
    assert is_registration_for(taken.json()["workflow_id"], owner.email)
    [notice] = await sink.wait_for(owner.email)
    assert notice.message["Subject"] == "Someone tried to sign up with your e-mail address"
    assert "token=" not in notice.text
    # The owner's password still works; the one typed by the second sign-up does not.
    ok = await api.post("/auth/login", json={"email": owner.email, "password": owner.password})
    assert ok.status_code == 200
    other = await api.post("/auth/login", json={"email": owner.email, "password": PASSWORD})
    assert other.status_code == 401
    for workflow_id in (taken.json()["workflow_id"], fresh.json()["workflow_id"]):
        await smtp_resources.temporal.get_workflow_handle(workflow_id).terminate()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"email": "not-an-email-{u}"}, "invalid e-mail", id="bad-email"),
        pytest.param({"email": "{u}@b"}, "invalid e-mail", id="no-tld"),
        pytest.param({"email": "nul\u0000{u}@example.com"}, "invalid e-mail", id="nul-email"),
        pytest.param({"password": "short"}, "password must be", id="short-password"),
        pytest.param({"password": "x" * 129}, "password must be", id="long-password"),
        pytest.param({"password": "password123"}, "too common", id="common-password"),
        pytest.param({"display_name": "   "}, "display name", id="blank-name"),
        pytest.param({"display_name": "x" * 201}, "display name", id="long-name"),
        pytest.param({"display_name": "Ada\u0000"}, "display name", id="nul-name"),
        pytest.param({"display_name": "Ada\nLovelace"}, "display name", id="newline-name"),
    ],
)
async def test_register_rejects_what_sign_up_rejects(
    api: httpx.AsyncClient, smtp_resources: Resources, overrides: dict[str, str], message: str
) -> None:
    email = unique_email()
    # Unique even when invalid: other tests start workflows for their invalid addresses.
    unique = {k: v.replace("{u}", uuid.uuid4().hex[:12]) for k, v in overrides.items()}
    body = {**sign_up(email), **unique}

    response = await api.post("/auth/register", content=as_json(body), headers=JSON)

    problem = assert_problem(response, 422)
    assert message in problem["detail"]
    await assert_nothing_started(smtp_resources, str(body["email"]))
    assert await credentials(smtp_resources, email) == 0


@pytest.mark.parametrize("raw", MALFORMED)
@pytest.mark.parametrize("path", ["/auth/register", "/auth/verify-email"])
async def test_malformed_json_is_a_problem(api: httpx.AsyncClient, path: str, raw: bytes) -> None:
    assert_problem(await api.post(path, content=raw, headers=JSON), 400, 422)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="empty"),
        pytest.param({"password": PASSWORD, "display_name": "A"}, id="no-email"),
        pytest.param({"email": "a@example.com", "display_name": "A"}, id="no-password"),
        pytest.param({"email": "a@example.com", "password": PASSWORD}, id="no-name"),
        pytest.param(sign_up(None), id="null-email"),  # type: ignore[arg-type]
        pytest.param(sign_up(42), id="email-number"),  # type: ignore[arg-type]
        pytest.param(sign_up(["a@example.com"]), id="email-list"),  # type: ignore[arg-type]
        pytest.param(sign_up("a@example.com", password=12345678), id="password-number"),
        pytest.param(sign_up("a@example.com", password=True), id="password-bool"),
        pytest.param(sign_up("a@example.com", display_name={"x": 1}), id="name-object"),
        pytest.param(sign_up("a" * 100_000), id="email-100k"),
        pytest.param(sign_up("a@example.com", password="x" * 200_000), id="password-200k"),
        pytest.param(sign_up("a@example.com", display_name="x" * 100_000), id="name-100k"),
        pytest.param(sign_up("\ud800@example.com"), id="lone-surrogate"),
    ],
)
async def test_register_rejects_missing_and_mistyped_fields(
    api: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await api.post("/auth/register", content=as_json(body), headers=JSON)
    assert_problem(response, 422)


async def test_register_rejects_non_json_and_oversize_bodies_and_starts_nothing(
    api: httpx.AsyncClient, smtp_resources: Resources
) -> None:
    email = unique_email()
    body = sign_up(email)
    valid = httpx.Request("POST", "/", json=body).content
    limit = smtp_resources.settings.max_body_bytes

    answers = [
        await api.post("/auth/register", content=valid, headers={"content-type": "text/plain"}),
        await api.post("/auth/register", data=body),  # type: ignore[arg-type]
        await api.post("/auth/register", content=oversize(limit, **body), headers=JSON),
    ]

    for response in answers:
        assert_problem(response)
    assert answers[-1].status_code == 413
    await assert_nothing_started(smtp_resources, email)
    assert await credentials(smtp_resources, email) == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param({}, 422, id="missing"),
        pytest.param({"token": None}, 422, id="null"),
        pytest.param({"token": 12345678901234567890}, 422, id="number"),
        pytest.param({"token": ["a" * 43]}, 422, id="list"),
        pytest.param({"token": "short"}, 422, id="too-short"),
        pytest.param({"token": "a" * 100_000}, 422, id="100k"),
        pytest.param({"token": "\ud800" * 43}, 422, id="lone-surrogates"),
        pytest.param({"token": "a" * 43}, 400, id="unknown"),
        pytest.param({"token": "\u0000" * 43}, 400, id="nul-bytes"),
        pytest.param({"token": "' OR 1=1 --" * 4}, 400, id="sql-ish"),
    ],
)
async def test_verify_email_rejects_bad_tokens(
    api: httpx.AsyncClient, body: object, status: int
) -> None:
    response = await api.post("/auth/verify-email", content=as_json(body), headers=JSON)
    problem = assert_problem(response, status)
    if status == 400:
        assert problem["title"] == "Invalid or expired link"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/auth/register"), ("PUT", "/auth/verify-email"), ("GET", "/auth/verify-email")],
)
async def test_wrong_methods_are_405(api: httpx.AsyncClient, method: str, path: str) -> None:
    assert_problem(await api.request(method, path), 405)
