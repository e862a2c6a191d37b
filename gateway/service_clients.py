"""Pooled HTTP clients to the services, each behind a small circuit breaker."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.common.settings import ServiceName, Settings


class ServiceUnavailable(Exception):
    """A backend is down or its circuit is open; the gateway reports it without a stack trace."""

    def __init__(self, service: ServiceName, reason: str) -> None:
        super().__init__(f"{service.value} service unavailable: {reason}")
        self.service = service


#: Answers meaning "the service behind this address is not reachable" (from a proxy or load
#: balancer in front of it). Any other answer, 500 and 503 included, comes from a running
#: service: it must not open the circuit, or five requests that make the service fail (or five
#: logins while *its* Redis is down, answered 503) would cut every user off until the cooldown
#: ends, long after the service has recovered.
UNREACHABLE_STATUSES = frozenset({502, 504})


@dataclass
class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures to reach the service (transport errors,
    502/504); lets trial calls through after ``cooldown``, and the first success closes it."""

    threshold: int = 5
    cooldown: float = 2.0
    failures: int = 0
    opened_at: float | None = field(default=None)

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        return time.monotonic() - self.opened_at >= self.cooldown

    def record(self, ok: bool) -> None:
        if ok:
            self.failures, self.opened_at = 0, None
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = time.monotonic()


class ServiceClient:
    def __init__(self, service: ServiceName, base_url: str) -> None:
        self.service = service
        self.breaker = CircuitBreaker()
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(5.0, connect=2.0),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One call through the circuit breaker; a 5xx answer raises ``ServiceUnavailable``,
        but only transport errors and 502/504 count as failures of the circuit."""
        if not self.breaker.allow():
            raise ServiceUnavailable(self.service, "circuit open")
        try:
            response = await self.http.request(
                method, path, params=params or None, json=json, headers=headers
            )
        except httpx.HTTPError as error:
            self.breaker.record(ok=False)
            raise ServiceUnavailable(self.service, type(error).__name__) from error
        self.breaker.record(ok=response.status_code not in UNREACHABLE_STATUSES)
        if response.status_code >= 500:
            raise ServiceUnavailable(self.service, f"HTTP {response.status_code}")
        return response

    async def get(
        self, path: str, *, authorization: str | None = None, **params: Any
    ) -> httpx.Response:
        """``GET path?params``; ``authorization`` forwards the caller's own ``Authorization``
        header, so the service authenticates the end user itself (zero trust)."""
        headers = {"authorization": authorization} if authorization else None
        return await self.request("GET", path, params=params, headers=headers)

    async def aclose(self) -> None:
        await self.http.aclose()


class ServiceClients:
    def __init__(self, settings: Settings) -> None:
        self.user = ServiceClient(ServiceName.user, settings.service_url(ServiceName.user))
        self.auth = ServiceClient(ServiceName.auth, settings.service_url(ServiceName.auth))

    async def aclose(self) -> None:
        await self.user.aclose()
        await self.auth.aclose()
