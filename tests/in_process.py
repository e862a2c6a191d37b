"""A service's HTTP app in this process (ASGI, no socket) over real PostgreSQL, Redis and
Temporal: the one way tests reach an app in-process."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.auth.runtime import AuthRuntime
from services.auth.service import create_auth_app
from services.common.resources import Resources


def random_ip() -> str:
    """A client address of its own (throttles and rate limits are per client)."""
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


@asynccontextmanager
async def in_process_client(
    app: FastAPI,
    *,
    base_url: str = "http://service",
    client_ip: str | None = None,
    raise_app_exceptions: bool = True,
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client whose requests go to ``app`` from ``client_ip`` (default: a random one)."""
    transport = httpx.ASGITransport(
        app=app, client=(client_ip or random_ip(), 40000), raise_app_exceptions=raise_app_exceptions
    )
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        yield client


@asynccontextmanager
async def in_process_auth_api(
    resources: Resources, task_queue_prefix: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The auth API in-process from a random client address (throttling is per client).

    ``task_queue_prefix`` points the workflows it starts at other workers (the in-process ones).
    """
    app = create_auth_app(resources)
    if task_queue_prefix is not None:
        runtime: AuthRuntime = app.state.auth
        local = runtime.settings.model_copy(update={"task_queue_prefix": task_queue_prefix})
        app.state.auth = dataclasses.replace(runtime, settings=local)
    async with in_process_client(app, base_url="http://auth") as client:
        yield client
