"""Pooled HTTP clients to the services, each behind a small circuit breaker, and the one typed
call the resolvers and loaders make: ``ServiceCall.call`` returns the service's own response
model (``services/<x>/schemas.py``) and turns a refusal into a GraphQL error by that service's
row of ``REFUSALS``."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from pydantic import TypeAdapter

from schema.errors import (
    BAD_USER_INPUT,
    FORBIDDEN,
    NOT_FOUND,
    OUTAGE_RETRY_AFTER,
    RATE_LIMITED,
    SERVICE_UNAVAILABLE,
    UNAUTHENTICATED,
    UserFacingError,
)
from services.common.settings import ServiceName, Settings

T = TypeVar("T")


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

    async def get(self, path: str, **params: Any) -> httpx.Response:
        """``GET path?params`` without a caller (the JWKS fetch); calls made for a caller go
        through ``ServiceCall``, which forwards their ``Authorization``."""
        return await self.request("GET", path, params=params)

    async def aclose(self) -> None:
        await self.http.aclose()


@dataclass(frozen=True)
class Refusal:
    """How one refused answer reaches GraphQL: its ``extensions.code``; its message, the
    problem's own ``detail`` unless ``message`` fixes one; ``retryAfter`` (whole seconds, from the
    ``Retry-After`` header, else the problem's ``retry_after``) when ``retry_after``."""

    code: str
    message: str | None = None
    retry_after: bool = False


@dataclass(frozen=True)
class ErrorTable:
    """One service's refusals, declared once: problem+json status -> GraphQL code, and the
    problem's own ``code`` values that a client acts on, passed on as ``extensions.code`` (any
    other ``code`` is ignored: the code then follows from the status)."""

    unavailable: str
    by_status: Mapping[int, Refusal]
    otherwise: Refusal
    passed_codes: frozenset[str] = frozenset()
    #: The problem's own ``code`` under another name in GraphQL (a service's ``SlugTaken`` is
    #: ``SLUG_TAKEN``); a code mapped here wins over the status.
    renamed_codes: Mapping[str, str] = field(default_factory=dict)

    def error(self, response: httpx.Response) -> UserFacingError:
        try:
            body = response.json()
            detail = body.get("detail") or "request refused"
            own_code = body.get("code")
        except (ValueError, AttributeError):
            detail, own_code = "request refused", None
        if isinstance(detail, list):  # FastAPI validation details
            detail = "invalid input"
        refusal = self.by_status.get(response.status_code, self.otherwise)
        message = refusal.message or str(detail)
        if isinstance(own_code, str) and own_code in self.passed_codes:
            return UserFacingError(message, own_code)
        if isinstance(own_code, str) and own_code in self.renamed_codes:
            return UserFacingError(message, self.renamed_codes[own_code])
        if refusal.retry_after:  # like the gateway's own limiter: when to try again
            return UserFacingError(message, refusal.code, retryAfter=retry_after(response))
        return UserFacingError(message, refusal.code)


def _upper_snake(code: str) -> str:
    """``SlugTaken`` -> ``SLUG_TAKEN``, the GraphQL spelling of codes."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", code).upper()


#: The error table of each service (the tests pin these codes and messages).
REFUSALS: dict[ServiceName, ErrorTable] = {
    ServiceName.auth: ErrorTable(
        unavailable="the auth service is unavailable",
        by_status={
            401: Refusal(UNAUTHENTICATED),
            403: Refusal(FORBIDDEN),
            404: Refusal(NOT_FOUND),
            429: Refusal(RATE_LIMITED, retry_after=True),
        },
        otherwise=Refusal(BAD_USER_INPUT),
        passed_codes=frozenset({"PASSWORD_REQUIRED", "PASSWORD_MISMATCH"}),
    ),
    ServiceName.user: ErrorTable(
        unavailable="the user service is unavailable",
        by_status={401: Refusal(UNAUTHENTICATED, "not authenticated")},
        otherwise=Refusal(BAD_USER_INPUT, "the user service refused the request"),
    ),
    # The tenant service's problem ``code`` is a ``TenantError`` (services/tenant/errors.py).
    # Who may see what keeps the status's code (a non-member's NotAMember is NOT_FOUND, as an
    # unknown tenant's); the conflicts a client acts on keep their own name.
    ServiceName.tenant: ErrorTable(
        unavailable="the tenant service is unavailable",
        by_status={
            401: Refusal(UNAUTHENTICATED, "not authenticated"),
            403: Refusal(FORBIDDEN),
            404: Refusal(NOT_FOUND, "not found"),
            429: Refusal(RATE_LIMITED, retry_after=True),
        },
        otherwise=Refusal(BAD_USER_INPUT),
        renamed_codes={
            code: _upper_snake(code)
            for code in (
                "SlugTaken",
                "TenantNotActive",
                "AlreadyAMember",
                "OwnerRequired",
                "LastOwner",
                "GrantExceedsOwn",
                "UnknownRole",
                "RoleExists",
                "RoleInUse",
                "SeatQuotaExceeded",
                "InvalidInvitation",
                "DomainTaken",
                "DomainNotVerified",
                "PaymentFailed",
                "PaymentTimedOut",
            )
        },
    ),
}


def retry_after(response: httpx.Response) -> int:
    """Whole seconds from the ``Retry-After`` header (delay form), else from the problem's
    ``retry_after``; at least 1."""
    header = response.headers.get("retry-after", "").strip()
    if header.isdigit():
        return max(1, int(header))
    try:
        value = response.json().get("retry_after")
    except (ValueError, AttributeError):
        value = None
    return max(1, int(value)) if isinstance(value, int | float) else 1


@dataclass(frozen=True)
class Caller:
    """Whom a call is made for: the address forwarded for per-client throttling, and the
    caller's own ``Authorization`` header, so the service authenticates the end user itself
    (zero trust)."""

    client_ip: str | None = None
    authorization: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.client_ip:
            headers["x-forwarded-for"] = self.client_ip
        if self.authorization:
            headers["authorization"] = self.authorization
        return headers


#: A validator per response type, built on first use (``list[SessionOut]`` is no class).
_ADAPTERS: dict[object, TypeAdapter[Any]] = {}


def _validate(response: type[T], content: bytes) -> T:
    adapter = _ADAPTERS.get(response)
    if adapter is None:
        adapter = _ADAPTERS[response] = TypeAdapter(response)
    validated: T = adapter.validate_json(content)
    return validated


@dataclass(frozen=True)
class ServiceCall:
    """The one typed way to call a service: ``call`` returns the answer validated as
    ``response`` (a model of ``services/<x>/schemas.py``, or a list of one), ``send`` reads no
    body. An outage is ``SERVICE_UNAVAILABLE``, a refusal the error of the service's table."""

    client: ServiceClient
    refusals: ErrorTable
    caller: Caller

    async def call(
        self,
        method: str,
        path: str,
        *,
        response: type[T],
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> T:
        answer = await self._answer(method, path, json=json, params=params)
        return _validate(response, answer.content)

    async def send(self, method: str, path: str, *, json: Any = None) -> None:
        await self._answer(method, path, json=json, params=None)

    async def _answer(
        self, method: str, path: str, *, json: Any, params: dict[str, Any] | None
    ) -> httpx.Response:
        try:
            answer = await self.client.request(
                method, path, params=params, json=json, headers=self.caller.headers()
            )
        except ServiceUnavailable as error:
            raise UserFacingError(
                self.refusals.unavailable, SERVICE_UNAVAILABLE, retryAfter=OUTAGE_RETRY_AFTER
            ) from error
        if answer.status_code >= 400:
            raise self.refusals.error(answer)
        return answer


class ServiceClients:
    def __init__(self, settings: Settings) -> None:
        self.user = ServiceClient(ServiceName.user, settings.service_url(ServiceName.user))
        self.auth = ServiceClient(ServiceName.auth, settings.service_url(ServiceName.auth))
        self.tenant = ServiceClient(ServiceName.tenant, settings.service_url(ServiceName.tenant))

    def client(self, service: ServiceName) -> ServiceClient:
        clients = {
            ServiceName.user: self.user,
            ServiceName.auth: self.auth,
            ServiceName.tenant: self.tenant,
        }
        return clients[service]

    def of(self, service: ServiceName, caller: Caller | None = None) -> ServiceCall:
        """Calls to ``service`` made for ``caller``."""
        return ServiceCall(self.client(service), REFUSALS[service], caller or Caller())

    async def aclose(self) -> None:
        await self.user.aclose()
        await self.auth.aclose()
        await self.tenant.aclose()
