"""Helpers of the efficiency tests: an in-process gateway over the real stack's services, and a
count of the HTTP calls it makes to them, per service port."""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest

from services.common.resources import Resources
from services.common.settings import ServiceName
from tests.gateway.gateway_app import gateway_app, gateway_client
from tests.support import Stack

BACKENDS = (ServiceName.auth, ServiceName.user, ServiceName.tenant, ServiceName.file)


@asynccontextmanager
async def stack_gateway(
    resources: Resources, stack: Stack, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process gateway whose service calls go to the stack's service processes."""
    ports = {f"{s.value}_port": stack.ports[s] for s in BACKENDS if s in stack.ports}
    async with gateway_client(gateway_app(resources, **ports, **settings)) as client:
        yield client


class Calls:
    """Backend requests seen since the last ``reset``, by service and by ``METHOD path``."""

    def __init__(self, ports: dict[int, ServiceName]) -> None:
        self.ports = ports
        self.seen: list[tuple[ServiceName, str]] = []

    def reset(self) -> None:
        self.seen.clear()

    def of(self, service: ServiceName) -> int:
        return sum(1 for s, _ in self.seen if s == service)

    def by_service(self) -> dict[str, int]:
        return dict(collections.Counter(s.value for s, _ in self.seen))


@contextmanager
def counting_calls(monkeypatch: pytest.MonkeyPatch, stack: Stack) -> Iterator[Calls]:
    """Every request the process sends over a real connection (``AsyncHTTPTransport``) to one
    of the stack's service ports is recorded; the ASGI hop of the test client is not."""
    calls = Calls({port: service for service, port in stack.ports.items()})
    original = httpx.AsyncHTTPTransport.handle_async_request

    async def counted(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        service = calls.ports.get(request.url.port or 0)
        if service not in (None, ServiceName.gateway) and not request.url.path.startswith(
            "/health"
        ):
            calls.seen.append((service, f"{request.method} {request.url.path}"))
        return await original(self, request)

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", counted)
    yield calls
