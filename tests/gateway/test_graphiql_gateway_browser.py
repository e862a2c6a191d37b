"""GraphiQL served by the real gateway, in a real (offline) Chromium: the sign-up mutation run
from GraphiQL starts a workflow that Temporal (and so its UI) knows about."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.async_api import expect
from temporalio.client import Client

from services.common.settings import ServiceName
from tests.gateway.browser import (
    CHROMIUM,
    TIMEOUT_MS,
    chromium,
    page_confined_to,
    run_in_graphiql,
)
from tests.support import Stack

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed"),
    pytest.mark.timeout(90),
]


async def test_sign_up_from_graphiql_starts_a_workflow(stack: Stack, temporal: Client) -> None:
    email = f"graphiql-{uuid.uuid4().hex[:8]}@example.com"
    mutation = (
        f'mutation {{ signUp(input: {{email: "{email}", password: "a long enough password", '
        f'displayName: "From GraphiQL"}}) {{ id type status }} }}'
    )
    base = stack.url(ServiceName.gateway)
    async with chromium() as browser:
        page = await page_confined_to(browser, base)
        await page.goto(f"{base}/graphql", wait_until="load")
        await expect(page.locator(".graphiql-query-editor .CodeMirror")).to_be_visible()

        response = await run_in_graphiql(page, mutation)
        await expect(response).to_contain_text("user_registration", timeout=TIMEOUT_MS)
        text = await page.evaluate(
            "() => document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()"
        )

    run = json.loads(text)["data"]["signUp"]
    description = await temporal.get_workflow_handle(run["id"]).describe()
    assert description.workflow_type == "user_registration"
