"""Limits on password-reset requests, on the real dev server with mail over SMTP: one client
flooding requests gets 429 while others are served; an address past its mail limit gets the
same answer and no further mail; the owner still completes a reset and logs in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from services.auth.runtime import AuthRuntime
from services.auth.service import create_auth_app
from services.common.resources import Resources
from tests.auth.mail_flows import SmtpSink, auth_api, with_settings
from tests.auth.password_reset.reset_flows import (
    NEW_PASSWORD,
    can_login,
    confirm,
    request_reset,
    reset_token,
    run_of,
)
from tests.auth.users import create_user
from tests.in_process import in_process_client, random_ip
from tests.problems import assert_problem

PER_CLIENT = 3
PER_ADDRESS = 2
LIMITS = {
    "auth_reset_requests_per_client": PER_CLIENT,
    "auth_reset_mails_per_address": PER_ADDRESS,
}
#: Headers that differ between any two responses.
VOLATILE = {"date", "x-request-id"}


def nobody() -> str:
    return f"nobody-{uuid.uuid4().hex[:12]}@example.com"


async def never_started(resources: Resources, email: str) -> bool:
    try:
        await run_of(resources, email).describe()
    except RPCError as error:
        return error.status == RPCStatusCode.NOT_FOUND
    return False


def stable_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in VOLATILE}


@asynccontextmanager
async def behind_proxy(
    resources: Resources, **overrides: object
) -> AsyncIterator[httpx.AsyncClient]:
    """The auth API as reached through the gateway: the peer is a trusted proxy (127.0.0.1)."""
    app = create_auth_app(with_settings(resources, **overrides))
    async with in_process_client(app, base_url="http://auth", client_ip="127.0.0.1") as client:
        yield client


async def test_a_flooding_client_is_limited_and_others_are_not(
    smtp_resources: Resources,
) -> None:
    async with (
        auth_api(smtp_resources, **LIMITS) as flooder,
        auth_api(smtp_resources, **LIMITS) as other,
    ):
        allowed = [await request_reset(flooder, nobody()) for _ in range(PER_CLIENT)]
        late_address = nobody()
        refused = await request_reset(flooder, late_address)
        # A forged X-Forwarded-For from an untrusted peer changes nothing.
        spoofed = await flooder.post(
            "/auth/password-reset",
            json={"email": nobody()},
            headers={"x-forwarded-for": random_ip()},
        )
        served = await request_reset(other, nobody())

    assert [a.status_code for a in allowed] == [202] * PER_CLIENT
    problem = assert_problem(refused, 429)
    assert problem["type"] == "https://adx.dev/problems/too-many-requests"
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    assert problem["retry_after"] == int(refused.headers["retry-after"])
    assert await never_started(smtp_resources, late_address), "a refused request started a reset"
    assert_problem(spoofed, 429)
    assert served.status_code == 202, served.text


async def test_clients_behind_the_trusted_proxy_are_counted_apart(
    smtp_resources: Resources,
) -> None:
    """Through the gateway every request has the same peer; the last X-Forwarded-For hop (the
    gateway's view of the caller) is the client that is counted."""
    flooder, other = random_ip(), random_ip()
    async with behind_proxy(smtp_resources, **LIMITS) as proxy:

        async def from_(ip: str) -> httpx.Response:
            return await proxy.post(
                "/auth/password-reset",
                json={"email": nobody()},
                headers={"x-forwarded-for": f"{random_ip()}, {ip}"},
            )

        flood = [(await from_(flooder)).status_code for _ in range(PER_CLIENT + 1)]
        served = await from_(other)

    assert flood == [202] * PER_CLIENT + [429]
    assert served.status_code == 202, served.text


async def test_an_address_past_its_limit_gets_the_same_answer_and_no_mail(
    sink: SmtpSink, smtp_resources: Resources, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    run = run_of(smtp_resources, user.email)
    unknown = nobody()
    async with auth_api(smtp_resources, auth_reset_mails_per_address=PER_ADDRESS) as api:
        first = await request_reset(api, user.email)
        await reset_token(sink, user.email)
        await run.terminate("the first reset is abandoned")
        second = await request_reset(api, user.email)
        # A request while the second reset waits joins it: no mail, and no count either.
        joined = await request_reset(api, user.email)
        token = await reset_token(sink, user.email, nth=2)
        # The owner completes the reset although the address is at its limit.
        done = await confirm(api, token)
        await run.result()
        completed = await run.describe()

        capped = await request_reset(api, user.email)
        after = await run.describe()

        for _ in range(PER_ADDRESS):
            await request_reset(api, unknown)
            await run_of(smtp_resources, unknown).terminate("test")
        unknown_capped = await request_reset(api, unknown)
        login = await can_login(api, user.email, NEW_PASSWORD)

    answers = [first, second, joined, capped, unknown_capped]
    assert {a.status_code for a in answers} == {202}
    assert {a.content for a in answers} == {first.content}
    assert all(stable_headers(a) == stable_headers(first) for a in answers)
    assert done.status_code == 200, done.text
    assert completed.status == after.status == WorkflowExecutionStatus.COMPLETED
    assert after.run_id == completed.run_id, "a request past the limit started a new reset"
    assert len(sink.to(user.email)) == 2
    assert (await run_of(smtp_resources, unknown).describe()).status == (
        WorkflowExecutionStatus.TERMINATED
    ), "the address limit counts unknown addresses the same way"
    assert login == 200


async def test_a_limited_client_still_completes_its_reset_and_logs_in(
    sink: SmtpSink, smtp_resources: Resources, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    async with auth_api(smtp_resources, **LIMITS) as api:
        assert (await request_reset(api, user.email)).status_code == 202
        token = await reset_token(sink, user.email)
        for _ in range(PER_CLIENT):
            last = await request_reset(api, nobody())
        assert_problem(last, 429)

        done = await confirm(api, token)
        login = await can_login(api, user.email, NEW_PASSWORD)

    assert done.status_code == 200, done.text
    assert login == 200


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="missing"),
        pytest.param({"email": "not-an-email"}, id="not-an-address"),
        pytest.param({"email": ["a@example.com"]}, id="list"),
    ],
)
async def test_bad_requests_are_not_counted(
    smtp_resources: Resources, body: dict[str, object]
) -> None:
    async with auth_api(smtp_resources, **LIMITS) as api:
        for _ in range(PER_CLIENT + 2):
            assert_problem(await api.post("/auth/password-reset", json=body), 422)
        assert (await request_reset(api, nobody())).status_code == 202
