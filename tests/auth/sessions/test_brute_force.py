"""Brute force is throttled per account and per client, without revealing which e-mails exist."""

from __future__ import annotations

import statistics
import time
import uuid

import httpx

from services.auth.runtime import AuthRuntime
from tests.auth.users import AuthUser
from tests.in_process import in_process_client


async def attempt(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password})


async def test_unknown_and_known_email_get_the_same_answer(
    auth_client: httpx.AsyncClient, user: AuthUser
) -> None:
    wrong_password = await attempt(auth_client, user.email, "not the password at all")
    unknown = await attempt(auth_client, f"ghost-{uuid.uuid4().hex}@example.com", "whatever pw")

    assert wrong_password.status_code == unknown.status_code == 401
    strip = lambda r: {k: v for k, v in r.json().items()}  # noqa: E731
    assert strip(wrong_password) == strip(unknown)


async def test_unknown_email_takes_a_real_password_check(
    auth_client: httpx.AsyncClient, user: AuthUser
) -> None:
    """Without the dummy hash check an unknown e-mail answers ~50x faster: an oracle."""

    async def timed(email: str) -> float:
        start = time.perf_counter()
        await attempt(auth_client, email, "wrong password here")
        return time.perf_counter() - start

    known, unknown = [], []
    for _ in range(4):  # stays under the free attempts of the account
        known.append(await timed(user.email))
        unknown.append(await timed(f"ghost-{uuid.uuid4().hex}@example.com"))

    assert statistics.median(unknown) > 0.3 * statistics.median(known), (known, unknown)


async def test_account_is_throttled_with_growing_delay_then_recovers(
    auth_client: httpx.AsyncClient, user: AuthUser, auth_runtime: AuthRuntime
) -> None:
    free = auth_runtime.settings.auth_login_free_attempts
    for _ in range(free):
        assert (await attempt(auth_client, user.email, "wrong")).status_code == 401

    blocked = await attempt(auth_client, user.email, user.password)  # even the right password

    assert blocked.status_code == 429
    retry_after = int(blocked.headers["retry-after"])
    assert 1 <= retry_after <= 2
    time.sleep(retry_after + 0.1)
    assert (await attempt(auth_client, user.email, user.password)).status_code == 200


async def test_throttling_is_the_same_for_unknown_accounts(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    ghost = f"ghost-{uuid.uuid4().hex}@example.com"
    for _ in range(auth_runtime.settings.auth_login_free_attempts):
        await attempt(auth_client, ghost, "wrong")
    assert (await attempt(auth_client, ghost, "wrong")).status_code == 429


async def test_one_client_spraying_many_accounts_is_throttled(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    limit = auth_runtime.settings.auth_login_free_attempts * 4
    for i in range(limit):
        await attempt(auth_client, f"spray-{i}-{uuid.uuid4().hex[:6]}@example.com", "Winter2026!")
    fresh = await attempt(auth_client, f"fresh-{uuid.uuid4().hex}@example.com", "Winter2026!")
    assert fresh.status_code == 429


async def test_forwarded_for_is_believed_only_from_trusted_proxies(
    auth_runtime: AuthRuntime, auth_resources
) -> None:  # type: ignore[no-untyped-def]
    from services.auth.service import create_auth_app

    app = create_auth_app(auth_resources)
    ghost = f"ghost-{uuid.uuid4().hex}@example.com"
    async with in_process_client(app, base_url="http://auth", client_ip="127.0.0.1") as client:
        for _ in range(auth_runtime.settings.auth_login_free_attempts * 4):
            await client.post(
                "/auth/login",
                json={"email": f"{uuid.uuid4().hex}@x.io", "password": "wrong"},
                headers={"x-forwarded-for": "203.0.113.7"},
            )
        # Another end user behind the same gateway is not punished for 203.0.113.7.
        other = await client.post(
            "/auth/login",
            json={"email": ghost, "password": "wrong"},
            headers={"x-forwarded-for": "203.0.113.8"},
        )
        spoofer = await client.post(
            "/auth/login",
            json={"email": ghost, "password": "wrong"},
            headers={"x-forwarded-for": "203.0.113.7"},
        )
    assert other.status_code == 401
    assert spoofer.status_code == 429
