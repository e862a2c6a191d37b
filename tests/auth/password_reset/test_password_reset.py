"""Password reset end to end on the real dev server, mail over SMTP to a real sink: the link sets
the password once, signs out everywhere and keeps MFA; it expires; unknown and known addresses
are indistinguishable; failed logins never block it; bad input is a 4xx problem."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, update
from temporalio.service import RPCError, RPCStatusCode

from services.auth.passwords import verify_password
from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from storage.auth.models import Credential, OneTimeToken
from storage.db import transaction
from tests.auth.bad_input import MALFORMED
from tests.auth.mail_flows import SmtpSink, link_token, record_history
from tests.auth.password_reset.reset_flows import (
    NEW_PASSWORD,
    bearer,
    can_login,
    confirm,
    events_of,
    request_reset,
    reset_token,
    run_of,
    short_lived_reset,
    stored,
    waiting_progress,
)
from tests.auth.users import create_user, login
from tests.problems import JSON, as_json, assert_problem, oversize
from workflows.auth.password_reset import password_reset_workflow_id
from workflows.common.progress import PROGRESS_QUERY, Progress


async def test_reset_sets_the_password_and_signs_out_everywhere(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    one, two = await login(api, user), await login(api, user)

    accepted = await request_reset(api, user.email)

    assert accepted.status_code == 202, accepted.text
    [mail] = await sink.wait_for(user.email)
    assert mail.message["Subject"] == "Reset your password"
    assert f"{smtp_resources.settings.public_url}/reset-password?token=" in mail.text
    token = link_token(mail.text, "/reset-password")

    done = await confirm(api, token)

    assert done.status_code == 200, done.text
    assert done.json() == {"status": "completed"}
    handle = run_of(smtp_resources, user.email)
    assert (await handle.result()).status == "completed"
    final = await handle.query(PROGRESS_QUERY, result_type=Progress)
    assert (final.step, final.total, final.percent, final.state) == (2, 2, 100, "completed")
    for tokens in (one, two):  # every session is over, access tokens included
        assert (await api.get("/auth/me", headers=bearer(tokens))).status_code == 401
        refresh = await api.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refresh.status_code == 401
    assert await can_login(api, user.email, user.password) == 401
    assert await can_login(api, user.email, NEW_PASSWORD) == 200
    row = await stored(auth_runtime, user)
    assert row.password_changed_at is not None and row.password_hash.startswith("$argon2id$")  # type: ignore[union-attr]
    events = await events_of(auth_runtime, user)
    for event in ("one_time_token.issued", "one_time_token.used", "password.changed"):
        assert events.count(event) == 1, (event, events)
    assert "session.revoked_all" in events
    await record_history(handle, "password_reset")


async def test_unknown_and_known_addresses_get_the_same_answer(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    unknown = f"nobody-{uuid.uuid4().hex[:12]}@example.com"

    known_answer = await request_reset(api, user.email)
    unknown_answer = await request_reset(api, unknown)

    assert known_answer.status_code == unknown_answer.status_code == 202
    assert known_answer.content == unknown_answer.content
    ignore = {"date", "x-request-id"}
    assert {k: v for k, v in known_answer.headers.items() if k not in ignore} == {
        k: v for k, v in unknown_answer.headers.items() if k not in ignore
    }
    # Even a reader of the runs (same progress, same kind of ending) could not tell.
    known_run, unknown_run = run_of(smtp_resources, user.email), run_of(smtp_resources, unknown)
    assert await waiting_progress(known_run) == await waiting_progress(unknown_run)
    await sink.wait_for(user.email)
    await asyncio.sleep(0.5)
    assert sink.to(unknown) == []
    for handle in (known_run, unknown_run):
        await handle.terminate("test done")


async def test_a_reset_link_works_once(
    api: httpx.AsyncClient, sink: SmtpSink, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    await request_reset(api, user.email)
    token = await reset_token(sink, user.email)

    first = await confirm(api, token)
    second = await confirm(api, token, "yet another passphrase")
    unknown = await confirm(api, "u" * 43, "yet another passphrase")

    assert first.status_code == 200
    problem = assert_problem(second, 400)
    assert second.json() == unknown.json(), "a spent token must look like an unknown one"
    assert problem["title"] == "Invalid or expired link"
    assert await verify_password((await stored(auth_runtime, user)).password_hash, NEW_PASSWORD)


async def test_concurrent_confirmations_change_the_password_once(
    api: httpx.AsyncClient, sink: SmtpSink, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    await request_reset(api, user.email)
    token = await reset_token(sink, user.email)
    candidates = [f"concurrent passphrase {i}" for i in range(4)]

    answers = await asyncio.gather(*(confirm(api, token, pw) for pw in candidates))

    assert sorted(a.status_code for a in answers) == [200, 400, 400, 400]
    winner = candidates[[a.status_code for a in answers].index(200)]
    assert await verify_password((await stored(auth_runtime, user)).password_hash, winner)
    assert (await events_of(auth_runtime, user)).count("password.changed") == 1


async def test_a_reset_link_expires(
    sink: SmtpSink, smtp_resources: Resources, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    async with short_lived_reset(sink, smtp_resources, user.email) as (short_lived, token):
        result = await asyncio.wait_for(run_of(smtp_resources, user.email).result(), 30)

        late = await confirm(short_lived, token)

    assert result.status == "expired"
    assert_problem(late, 400)
    await record_history(run_of(smtp_resources, user.email), "password_reset.expired")
    row = await stored(auth_runtime, user)
    assert await verify_password(row.password_hash, user.password), "expired link changed it"


async def test_an_expired_link_is_refused_while_the_run_still_waits(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    await request_reset(api, user.email)
    token = await reset_token(sink, user.email)
    async with transaction(auth_runtime.resources.database) as db:
        await db.execute(
            update(OneTimeToken)
            .where(OneTimeToken.user_id == user.id)
            .values(expires_at=func.now() - timedelta(seconds=1))
        )

    assert_problem(await confirm(api, token), 400)
    assert await can_login(api, user.email, user.password) == 200
    await run_of(smtp_resources, user.email).terminate("test done")


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "password must be"), ("password123", "too common"), ("x" * 129, "password must be")],
)
async def test_a_rejected_new_password_does_not_spend_the_link(
    api: httpx.AsyncClient,
    sink: SmtpSink,
    auth_runtime: AuthRuntime,
    password: str,
    message: str,
) -> None:
    user = await create_user(auth_runtime)
    await request_reset(api, user.email)
    token = await reset_token(sink, user.email)

    rejected = await confirm(api, token, password)

    assert message in assert_problem(rejected, 422)["detail"]
    assert (await confirm(api, token)).status_code == 200


async def test_reset_keeps_mfa_enabled(
    api: httpx.AsyncClient, sink: SmtpSink, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    async with transaction(auth_runtime.resources.database) as db:
        await db.execute(
            update(Credential).where(Credential.id == user.id).values(mfa_enabled=True)
        )
    await request_reset(api, user.email)

    assert (await confirm(api, await reset_token(sink, user.email))).status_code == 200

    assert (await stored(auth_runtime, user)).mfa_enabled
    after = await api.post("/auth/login", json={"email": user.email, "password": NEW_PASSWORD})
    assert after.status_code == 200 and after.json()["mfa_required"] is True
    assert after.json()["tokens"] is None, "the new password alone must not be enough"


async def test_failed_logins_never_block_a_reset(
    api: httpx.AsyncClient, sink: SmtpSink, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    wrong = {"email": user.email, "password": "not the password"}
    for _ in range(auth_runtime.settings.auth_login_free_attempts + 1):
        await api.post("/auth/login", json=wrong)
    assert await can_login(api, user.email, user.password) == 429, "account should be throttled"

    accepted = await request_reset(api, user.email)
    done = await confirm(api, await reset_token(sink, user.email))

    assert (accepted.status_code, done.status_code) == (202, 200)
    # The owner proved control of the mailbox: the account's failure counter is cleared.
    assert await can_login(api, user.email, NEW_PASSWORD) == 200


async def test_reset_of_an_unverified_account_verifies_it(
    api: httpx.AsyncClient, sink: SmtpSink, auth_runtime: AuthRuntime
) -> None:
    """Someone who pre-registered the victim's address loses it to the mailbox's owner."""
    squatted = await create_user(auth_runtime, verified=False)
    await request_reset(api, squatted.email)

    assert (await confirm(api, await reset_token(sink, squatted.email))).status_code == 200

    assert (await stored(auth_runtime, squatted)).email_verified
    assert await can_login(api, squatted.email, NEW_PASSWORD) == 200
    assert await can_login(api, squatted.email, squatted.password) == 401


async def test_a_second_request_while_one_runs_sends_no_second_mail(
    api: httpx.AsyncClient, sink: SmtpSink, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    answers = await asyncio.gather(*(request_reset(api, user.email) for _ in range(3)))
    assert {a.status_code for a in answers} == {202}
    token = await reset_token(sink, user.email)
    await asyncio.sleep(0.5)
    assert len(sink.to(user.email)) == 1
    assert (await confirm(api, token)).status_code == 200


async def test_tokens_only_redeem_their_own_purpose(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    await request_reset(api, user.email)
    reset = await reset_token(sink, user.email)
    newcomer = f"purpose-{uuid.uuid4().hex[:12]}@example.com"
    registered = await api.post(
        "/auth/register",
        json={"email": newcomer, "password": NEW_PASSWORD, "display_name": "New"},
    )
    verification = link_token((await sink.wait_for(newcomer))[0].text, "/verify-email")

    as_reset = await confirm(api, verification)
    as_verification = await api.post("/auth/verify-email", json={"token": reset})

    assert_problem(as_reset, 400)
    assert_problem(as_verification, 400)
    # Both still work for what they are.
    assert (await confirm(api, reset)).status_code == 200
    assert (await api.post("/auth/verify-email", json={"token": verification})).status_code == 200
    await smtp_resources.temporal.get_workflow_handle(registered.json()["workflow_id"]).result()


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", MALFORMED)
@pytest.mark.parametrize("path", ["/auth/password-reset", "/auth/password-reset/confirm"])
async def test_malformed_json_is_a_problem(api: httpx.AsyncClient, path: str, raw: bytes) -> None:
    assert_problem(await api.post(path, content=raw, headers=JSON), 400, 422)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="missing"),
        pytest.param({"email": None}, id="null"),
        pytest.param({"email": 42}, id="number"),
        pytest.param({"email": ["a@example.com"]}, id="list"),
        pytest.param({"email": {"$ne": ""}}, id="object"),
        pytest.param({"email": ""}, id="empty"),
        pytest.param({"email": "a" * 100_000}, id="100k"),
        pytest.param({"email": "not-an-email"}, id="not-an-address"),
        pytest.param({"email": "nul\u0000@example.com"}, id="nul"),
        pytest.param({"email": "\ud800@example.com"}, id="lone-surrogate"),
    ],
)
async def test_reset_request_rejects_bad_addresses_and_starts_nothing(
    api: httpx.AsyncClient, smtp_resources: Resources, body: dict[str, object]
) -> None:
    response = await api.post("/auth/password-reset", content=as_json(body), headers=JSON)
    assert_problem(response, 422)
    if isinstance(body.get("email"), str):
        handle = smtp_resources.temporal.get_workflow_handle(
            password_reset_workflow_id(str(body["email"]))
        )
        with pytest.raises(RPCError) as missing:
            await handle.describe()
        assert missing.value.status == RPCStatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param({}, 422, id="missing"),
        pytest.param({"token": "a" * 43}, 422, id="no-password"),
        pytest.param({"new_password": NEW_PASSWORD}, 422, id="no-token"),
        pytest.param({"token": None, "new_password": NEW_PASSWORD}, 422, id="null-token"),
        pytest.param({"token": 1234567890123456789, "new_password": NEW_PASSWORD}, 422, id="int"),
        pytest.param({"token": ["a" * 43], "new_password": NEW_PASSWORD}, 422, id="list"),
        pytest.param({"token": "short", "new_password": NEW_PASSWORD}, 422, id="short-token"),
        pytest.param({"token": "a" * 100_000, "new_password": NEW_PASSWORD}, 422, id="100k"),
        pytest.param({"token": "a" * 43, "new_password": True}, 422, id="password-bool"),
        pytest.param({"token": "a" * 43, "new_password": "x" * 200_000}, 422, id="pw-200k"),
        pytest.param({"token": "\ud800" * 43, "new_password": NEW_PASSWORD}, 422, id="surrogate"),
        pytest.param({"token": "a" * 43, "new_password": NEW_PASSWORD}, 400, id="unknown"),
        pytest.param({"token": "\u0000" * 43, "new_password": NEW_PASSWORD}, 400, id="nul"),
        pytest.param({"token": "' OR 1=1 --" * 4, "new_password": NEW_PASSWORD}, 400, id="sql"),
    ],
)
async def test_confirm_rejects_bad_bodies(
    api: httpx.AsyncClient, body: object, status: int
) -> None:
    response = await api.post("/auth/password-reset/confirm", content=as_json(body), headers=JSON)
    assert_problem(response, status)


async def test_non_json_and_oversize_bodies_neither_start_nor_spend(
    api: httpx.AsyncClient, sink: SmtpSink, smtp_resources: Resources, auth_runtime: AuthRuntime
) -> None:
    limit = smtp_resources.settings.max_body_bytes
    idle = await create_user(auth_runtime)  # nobody asks for its reset properly
    body = {"email": idle.email}
    valid = httpx.Request("POST", "/", json=body).content
    requests = [
        await api.post(
            "/auth/password-reset", content=valid, headers={"content-type": "text/plain"}
        ),
        await api.post("/auth/password-reset", data=body),
        await api.post("/auth/password-reset", content=oversize(limit, **body), headers=JSON),
    ]
    for response in requests:
        assert_problem(response)
    assert requests[-1].status_code == 413
    with pytest.raises(RPCError):
        await run_of(smtp_resources, idle.email).describe()

    user = await create_user(auth_runtime)
    await request_reset(api, user.email)
    token = await reset_token(sink, user.email)
    fields = {"token": token, "new_password": NEW_PASSWORD}
    rejected = await api.post(
        "/auth/password-reset/confirm", content=oversize(limit, **fields), headers=JSON
    )
    assert_problem(rejected, 413)
    as_form = await api.post("/auth/password-reset/confirm", data=fields)
    assert_problem(as_form, 422)
    assert (await confirm(api, token)).status_code == 200, "a rejected request spent the link"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/auth/password-reset"), ("PUT", "/auth/password-reset/confirm")],
)
async def test_wrong_methods_are_405(api: httpx.AsyncClient, method: str, path: str) -> None:
    assert_problem(await api.request(method, path), 405)
