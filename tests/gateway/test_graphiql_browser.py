"""GraphiQL works in a real (offline) Chromium: page renders, queries and subscriptions run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator

import pytest
import strawberry
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Page, Route, expect
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from gateway.graphiql import OfflineGraphQLRouter, mount_graphiql
from tests.gateway.browser import CHROMIUM, TIMEOUT_MS, chromium, run_in_graphiql

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} not installed (apt-get install -y chromium)",
    ),
    pytest.mark.timeout(60),
]


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def count(self) -> AsyncIterator[int]:
        for i in range(1, 4):
            await asyncio.sleep(0.05)
            yield i


def _app() -> FastAPI:
    app = FastAPI()
    router = OfflineGraphQLRouter(
        strawberry.Schema(Query, subscription=Subscription),
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
    )
    app.include_router(router, prefix="/graphql")
    mount_graphiql(app)
    return app


@contextlib.asynccontextmanager
async def _serve(app: FastAPI) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 10)
        finally:
            sock.close()


async def _response_json(page: Page) -> object:
    text = await page.evaluate(
        "() => document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()"
    )
    return json.loads(text) if text.strip() else {}


async def test_graphiql_runs_query_and_subscription_offline() -> None:
    blocked: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    websockets: list[str] = []

    async with _serve(_app()) as base_url, chromium() as browser:
        page = await browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)

        async def only_local(route: Route) -> None:
            if route.request.url.startswith(f"{base_url}/"):
                await route.continue_()
            else:
                blocked.append(route.request.url)
                await route.abort("blockedbyclient")

        await page.route("**/*", only_local)
        page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
        page.on(
            "response",
            lambda r: failed.append(f"{r.url}: HTTP {r.status}") if r.status >= 400 else None,
        )
        page.on("websocket", lambda ws: websockets.append(ws.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "console",
            lambda m: errors.append(m.text) if m.type == "error" else None,
        )

        await page.goto(f"{base_url}/graphql", wait_until="load")
        editors = page.locator(".graphiql-container .graphiql-editors")
        await expect(editors).to_be_visible(timeout=TIMEOUT_MS)
        await expect(editors.locator(".graphiql-query-editor .CodeMirror")).to_be_visible()
        await expect(editors.locator("button.graphiql-execute-button")).to_be_enabled()

        response = await run_in_graphiql(page, "{ hello }")
        await expect(response).to_contain_text('"hello": "world"', timeout=TIMEOUT_MS)
        assert await _response_json(page) == {"data": {"hello": "world"}}

        # graphql-transport-ws on the same /graphql path; GraphiQL shows the latest event.
        response = await run_in_graphiql(page, "subscription { count }")
        await expect(response).to_contain_text('"count": 3', timeout=TIMEOUT_MS)
        assert await _response_json(page) == {"data": {"count": 3}}
        assert websockets == [f"{base_url.replace('http', 'ws', 1)}/graphql"]

    assert blocked == []
    assert failed == []
    assert errors == []
