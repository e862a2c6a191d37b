"""The gateway app in-process (ASGI) for tests: over the test run's Redis and Temporal, with
settings of the test's choosing, and optionally with the auth service in-process too."""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from gateway.context import GatewayState
from gateway.service import create_gateway_app
from services.common.resources import Resources


def gateway_app(resources: Resources, *, production: bool = False, **settings: Any) -> FastAPI:
    """A gateway app over ``resources`` with ``settings`` overridden; ``production``: as
    ``ADX_ENV=production`` with the secrets that needs."""
    if production:
        secret = SecretStr(base64.b64encode(os.urandom(32)).decode())
        settings = {"env": "production", "run_access_secret": secret, **settings}
    if settings:
        local = resources.settings.model_copy(update=settings)
        resources = dataclasses.replace(resources, settings=local)
    return create_gateway_app(resources)


@asynccontextmanager
async def gateway_client(
    app: FastAPI, *, auth_app: FastAPI | None = None, client_ip: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of ``app``; with ``auth_app``, the gateway's auth calls go to that app."""
    if auth_app is not None:
        state: GatewayState = app.state.gateway
        await state.services.auth.http.aclose()
        state.services.auth.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=auth_app, client=(client_ip, 40000)),
            base_url="http://auth",
        )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(client_ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client
    await app.state.gateway.services.aclose()
