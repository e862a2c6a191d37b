"""The subscription tests' pieces: a workflow that holds until signalled (with a progress query),
starting it, and a gateway served by uvicorn on a real socket with the auth app in-process."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from temporalio import workflow
from temporalio.client import Client, WorkflowHandle

from gateway.context import GatewayState
from gateway.run_access import OWNER_MEMO
from services.auth.service import create_auth_app
from services.common.resources import Resources
from tests.gateway.gateway_app import gateway_app
from workflows.common.progress import PROGRESS_QUERY, Progress

QUEUE = f"subscription-tests-{uuid.uuid4().hex[:8]}"


@workflow.defn(name="SubscriptionTestHold")
class Hold:
    def __init__(self) -> None:
        self._done = False
        self._step = 0

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self._done)
        return "finished"

    @workflow.signal
    def finish(self) -> None:
        self._done = True

    @workflow.signal
    def step(self) -> None:
        """One step on while held (a change of progress for the relay to stream)."""
        self._step += 1

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        step = self._step + (1 if self._done else 0)
        return Progress(step=step, total=max(1, step), label="held", percent=0)


async def start_hold(
    temporal: Client, owner: str | None, workflow_id: str | None = None
) -> WorkflowHandle[Any, Any]:
    return await temporal.start_workflow(
        "SubscriptionTestHold",
        id=workflow_id or f"subscription-test-{uuid.uuid4().hex}",
        task_queue=QUEUE,
        memo={OWNER_MEMO: owner} if owner else None,
        execution_timeout=timedelta(minutes=5),
    )


@dataclass
class Served:
    app: FastAPI
    url: str  # http://127.0.0.1:<port>

    @property
    def ws(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"

    @property
    def state(self) -> GatewayState:
        return self.app.state.gateway  # type: ignore[no-any-return]


@asynccontextmanager
async def served_gateway(
    gateway_resources: Resources, auth_resources: Resources, **settings: Any
) -> AsyncIterator[Served]:
    app = gateway_app(gateway_resources, **settings)
    state: GatewayState = app.state.gateway
    await state.services.auth.http.aclose()
    state.services.auth.http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_auth_app(auth_resources)),
        base_url="http://auth",
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
        yield Served(app, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 10)
        finally:
            sock.close()
            await state.relay.aclose()
            await state.services.aclose()
