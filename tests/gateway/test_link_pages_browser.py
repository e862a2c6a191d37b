"""The pages the mailed links open (gateway/pages.py), in a real offline Chromium against the real
stack: sign up through GraphQL, open the verification link from the mail, confirm, sign in;
request a reset, open its link, choose a new password, sign in with it. Only the public GraphQL
API and the mails are used, like a user would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from gateway.pages import CONTENT_SECURITY_POLICY
from services.common.settings import ServiceName
from tests.auth.mail_flows import plain_text, wait_for_outbox
from tests.gateway.browser import CHROMIUM, chromium, page_confined_to
from tests.graphql_client import gql
from tests.support import Infra, Stack

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed (apt-get install -y chromium)"
    ),
    pytest.mark.timeout(120),
]

SIGN_UP = "mutation($input: SignUpInput!) { signUp(input: $input) { id } }"
LOGIN = "mutation($input: LoginInput!) { login(input: $input) { tokens { accessToken } } }"
VERIFY = "mutation($token: String!) { verifyEmail(token: $token) }"
REQUEST_RESET = "mutation($e: String!) { requestPasswordReset(email: $e) }"
PASSWORD = "a long enough password"


def mailed_link(text: str, path: str) -> str:
    """The ``<ADX_PUBLIC_URL><path>?token=…`` link of a mail, as written."""
    for word in text.split():
        if urlsplit(word).path == path:
            return word
    raise AssertionError(f"no {path} link in the mail:\n{text}")


def on_gateway(stack: Stack, link: str) -> str:
    """The mailed link with the test gateway's origin (ADX_PUBLIC_URL names the deployed one)."""
    parts = urlsplit(link)
    return stack.url(ServiceName.gateway, f"{parts.path}?{parts.query}")


async def sign_up(stack: Stack, infra: Infra) -> tuple[str, str]:
    """A new sign-up and its verification link."""
    email = f"pages-{uuid.uuid4().hex[:10]}@example.com"
    started = await gql(
        stack.graphql,
        SIGN_UP,
        {"input": {"email": email, "password": PASSWORD, "displayName": "Link Pages"}},
    )
    assert "errors" not in started, started
    mail = (await wait_for_outbox(infra.settings(), email))[-1]
    return email, mailed_link(plain_text(mail), "/verify-email")


async def login(stack: Stack, email: str, password: str) -> dict[str, Any]:
    return await gql(stack.graphql, LOGIN, {"input": {"email": email, "password": password}})


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


async def offline_page(browser: Browser, stack: Stack) -> tuple[Page, list[str]]:
    """A page that may reach the gateway only; returns it and the console's errors."""
    page = await page_confined_to(browser, stack.url(ServiceName.gateway))
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


async def assert_token_gone(page: Page, token_link: str) -> None:
    token = urlsplit(token_link).query.removeprefix("token=")
    assert token
    assert token not in page.url
    assert token not in await page.evaluate("() => window.location.href")


async def test_the_verification_link_opens_a_page_that_verifies_the_account(
    stack: Stack, infra: Infra, browser: Browser
) -> None:
    email, link = await sign_up(stack, infra)
    assert link.startswith(infra.settings().public_url.rstrip("/") + "/verify-email?token=")
    before = await login(stack, email, PASSWORD)
    assert before["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", before
    page, errors = await offline_page(browser, stack)

    response = await page.goto(on_gateway(stack, link), wait_until="load")

    assert response is not None and response.status == 200
    await expect(page.locator("#verify")).to_be_visible()
    await assert_token_gone(page, link)  # before anything was clicked
    await page.click("#verify")
    await expect(page.locator("#status")).to_have_text(
        "Your e-mail address is confirmed. You can now sign in."
    )
    assert errors == [], errors

    after = await login(stack, email, PASSWORD)
    assert "errors" not in after, after
    assert after["data"]["login"]["tokens"]["accessToken"]


async def test_a_used_or_broken_verification_link_shows_why(
    stack: Stack, infra: Infra, browser: Browser
) -> None:
    _, link = await sign_up(stack, infra)
    token = urlsplit(link).query.removeprefix("token=")
    assert await gql(stack.graphql, VERIFY, {"token": token}) == {"data": {"verifyEmail": True}}
    page, _ = await offline_page(browser, stack)

    await page.goto(on_gateway(stack, link), wait_until="load")  # used already
    await page.click("#verify")
    status = page.locator("#status")
    await expect(status).to_contain_text("Your address could not be confirmed")
    await expect(status).to_have_class("status error")

    await page.goto(stack.url(ServiceName.gateway, "/verify-email"), wait_until="load")
    await expect(status).to_contain_text("This link is incomplete")
    assert await page.locator("#verify").is_hidden()


async def test_a_contested_sign_up_asks_for_its_password_on_the_page(
    stack: Stack, infra: Infra, browser: Browser
) -> None:
    """Two sign-ups for one address (an attacker's first): the page asks for the password of the
    link's sign-up, refuses the victim's at the attacker's link, and verifies the victim's own."""
    email = f"pages-{uuid.uuid4().hex[:10]}@example.com"
    ids = []
    for password, name in (("the attacker's long password", "Mallory"), (PASSWORD, "Victim")):
        started = await gql(
            stack.graphql,
            SIGN_UP,
            {"input": {"email": email, "password": password, "displayName": name}},
        )
        assert "errors" not in started, started
        ids.append(started["data"]["signUp"]["id"])
    mails = await wait_for_outbox(infra.settings(), email, count=2)
    links = [mailed_by(ids, plain_text(m)) for m in mails]
    by_run = {run_id: link for run_id, link in links}
    attackers, victims = by_run[ids[0]], by_run[ids[1]]
    page, errors = await offline_page(browser, stack)
    status = page.locator("#status")

    await page.goto(on_gateway(stack, attackers), wait_until="load")
    assert await page.locator("#password").is_hidden()
    await page.click("#verify")
    await expect(status).to_contain_text("More than one sign-up was made with this address")
    await expect(page.locator("#password")).to_be_visible()
    await page.fill("#password", PASSWORD)  # the victim's, at the attacker's link
    await page.click("#verify")
    await expect(status).to_contain_text("belongs to a sign-up made with another password")
    await expect(status).to_have_class("status error")
    assert await page.input_value("#password") == ""
    refused = await login(stack, email, PASSWORD)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", refused

    await page.goto(on_gateway(stack, victims), wait_until="load")
    await page.click("#verify")
    await expect(page.locator("#password")).to_be_visible()
    await page.fill("#password", PASSWORD)
    await page.click("#verify")
    await expect(status).to_have_text("Your e-mail address is confirmed. You can now sign in.")
    assert errors == [], errors

    after = await login(stack, email, PASSWORD)
    assert "errors" not in after, after
    mallory = await login(stack, email, "the attacker's long password")
    assert mallory["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", mallory


def mailed_by(run_ids: list[str], text: str) -> tuple[str, str]:
    """(the run whose link this mail carries, the link): a link token starts with its run's id."""
    link = mailed_link(text, "/verify-email")
    token = urlsplit(link).query.removeprefix("token=")
    for run_id in run_ids:
        if token.startswith(run_id.removeprefix("user-registration-").replace("-", "")):
            return run_id, link
    raise AssertionError(f"the link of none of {run_ids}: {link}")


async def test_the_reset_link_opens_a_page_that_sets_the_new_password(
    stack: Stack, infra: Infra, browser: Browser
) -> None:
    email, link = await sign_up(stack, infra)
    token = urlsplit(link).query.removeprefix("token=")
    assert await gql(stack.graphql, VERIFY, {"token": token}) == {"data": {"verifyEmail": True}}
    assert (await gql(stack.graphql, REQUEST_RESET, {"e": email}))["data"] == {
        "requestPasswordReset": True
    }
    mails = await wait_for_outbox(infra.settings(), email, count=2)
    reset = mailed_link(plain_text(mails[-1]), "/reset-password")
    page, errors = await offline_page(browser, stack)

    await page.goto(on_gateway(stack, reset), wait_until="load")
    await assert_token_gone(page, reset)
    new_password = f"another long password {uuid.uuid4().hex[:6]}"
    await page.fill("#new-password", new_password)
    await page.fill("#confirm-password", new_password + " typo")
    await page.click("#reset")
    await expect(page.locator("#status")).to_have_text("The two passwords differ.")
    await page.fill("#new-password", "password")  # too common: the server says why
    await page.fill("#confirm-password", "password")
    await page.click("#reset")
    await expect(page.locator("#status")).to_contain_text("Your password was not changed")
    await page.fill("#new-password", new_password)
    await page.fill("#confirm-password", new_password)
    await page.click("#reset")
    await expect(page.locator("#status")).to_have_text(
        "Your password has been changed. Sign in with the new password."
    )
    assert errors == [], errors

    assert "errors" not in await login(stack, email, new_password)
    old = await login(stack, email, PASSWORD)
    assert old["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", old


async def test_the_reset_page_without_a_token_asks_for_a_reset_link(
    stack: Stack, infra: Infra, browser: Browser
) -> None:
    """The "someone tried to sign up with your address" notice links to the bare page."""
    email, link = await sign_up(stack, infra)
    token = urlsplit(link).query.removeprefix("token=")
    assert await gql(stack.graphql, VERIFY, {"token": token}) == {"data": {"verifyEmail": True}}
    page, errors = await offline_page(browser, stack)

    await page.goto(stack.url(ServiceName.gateway, "/reset-password"), wait_until="load")
    await page.fill("#email", email)
    await page.click("#request")
    await expect(page.locator("#status")).to_have_text(
        "If an account uses this address, a reset link is on its way."
    )
    assert errors == [], errors
    mails = await wait_for_outbox(infra.settings(), email, count=2)
    assert "/reset-password?token=" in plain_text(mails[-1])


@pytest.mark.parametrize(
    "path", ["/verify-email?token=x", "/reset-password", "/pages-assets/common.js"]
)
async def test_pages_and_assets_carry_the_strict_headers(stack: Stack, path: str) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(stack.url(ServiceName.gateway, path))
    assert response.status_code == 200
    headers = response.headers
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"
    if path.startswith("/pages-assets/"):
        assert "javascript" in headers["content-type"]
    else:
        assert headers["content-type"].startswith("text/html")
        # No inline script or style anywhere: only this origin's own files.
        assert "<script>" not in response.text and "style=" not in response.text
        assert '<script type="module" src="/pages-assets/' in response.text
