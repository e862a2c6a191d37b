"""A real, offline, headless Chromium for the browser tests (skipped where it is not installed),
and a driver for the GraphiQL page in it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from playwright.async_api import Browser, Locator, Page, async_playwright

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


async def run_in_graphiql(page: Page, query: str) -> Locator:
    """Put ``query`` in the query editor, press the run button, return the response pane."""
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    await editor.click()
    # Set through the editor's own API (a change event like typing): typed key by key, the
    # text could be reordered on a loaded machine by GraphiQL's debounced re-render of ?q=.
    await editor.evaluate("(e, q) => e.CodeMirror.setValue(q)", query)
    assert await editor.evaluate("e => e.CodeMirror.getValue()") == query
    # GraphiQL parses the editor (operation type, documentAST) in a 100 ms debounced handler
    # whose onEditQuery makes the template update ?q=; wait for it before running.
    await page.wait_for_function(
        "q => new URLSearchParams(location.search).get('q') === q", arg=query
    )
    await page.locator("button.graphiql-execute-button").click()
    return page.locator(".graphiql-response .CodeMirror")
