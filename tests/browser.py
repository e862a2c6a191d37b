"""A real, offline, headless Chromium for the browser tests (skipped where it is not installed)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """The installed Chromium, launched headless; closed on the way out."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def page_confined_to(browser: Browser, base: str) -> Page:
    """A new page whose requests reach only URLs under ``base`` (any other is aborted)."""
    page = await browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(base)
            else route.abort("blockedbyclient")
        ),
    )
    return page
