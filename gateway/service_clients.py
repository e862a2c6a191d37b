"""Pooled HTTP clients to the services and the one typed call the resolvers and loaders make:
``ServiceCall.call`` returns the service's own response model (``services/<x>/schemas.py``) and
turns a refusal into a GraphQL error by that service's row of ``REFUSALS``.

Underneath, each service is a pool of instances (``gateway/instances.py``) behind circuit
breakers (``gateway/breakers.py``, purgatory): one for the service, one per instance. A call
gets at most ``ADX_SERVICE_CALL_TIMEOUT_SECONDS`` per attempt and never outlives the request's
deadline (``RequestDeadline``); an idempotent read (GET, HEAD, OPTIONS) that cannot reach one
instance is tried again on another, within the service's ``RetryBudget``; a write never is."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from pydantic import TypeAdapter
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.breakers import STATE_VALUES, Breakers, CircuitOpen
from gateway.instances import Instance, InstancePool
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
from services.common.logging import get_logger
from services.common.settings import ServiceName, Settings

T = TypeVar("T")

_log = get_logger(__name__)


class ServiceUnavailable(Exception):
    """A backend is down or its circuit is open; the gateway reports it without a stack trace."""

    def __init__(self, service: ServiceName, reason: str) -> None:
        super().__init__(f"{service.value} service unavailable: {reason}")
        self.service = service
        self.reason = reason


class _Unreachable(Exception):
    """An attempt that did not reach a service: a failure for the breakers."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: Answers meaning "the service behind this address is not reachable" (from a proxy or load
#: balancer in front of it). Any other answer, 500 and 503 included, comes from a running
#: service: it must not open the circuit, or five requests that make the service fail (or five
#: logins while *its* Redis is down, answered 503) would cut every user off until the cooldown
#: ends, long after the service has recovered.
UNREACHABLE_STATUSES = frozenset({502, 504})

#: Methods whose call may be sent again: reads. Every GraphQL query reads with GET; a mutation's
#: POST, PATCH or DELETE is never retried (a second attempt could do the write twice).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: At most this many further attempts of one read, each on an instance not tried yet.
MAX_RETRIES = 2
#: Longest wait for a connection, within the call's timeout.
CONNECT_TIMEOUT_SECONDS = 2.0

#: When the GraphQL request being served must be answered by (``time.monotonic()``), if any.
_DEADLINE: ContextVar[float | None] = ContextVar("adx_request_deadline", default=None)


@contextlib.contextmanager
def deadline_in(seconds: float) -> Iterator[None]:
    """Service calls made inside give up ``seconds`` from now (or at an earlier deadline)."""
    current = _DEADLINE.get()
    deadline = time.monotonic() + seconds
    token = _DEADLINE.set(deadline if current is None else min(current, deadline))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


class RequestDeadline:
    """ASGI middleware: every HTTP request's service calls share one deadline,
    ``ADX_REQUEST_DEADLINE_SECONDS`` after it arrived (a WebSocket lives longer than any request:
    its calls have their per-call timeout only)."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with deadline_in(self.seconds):
            await self.app(scope, receive, send)


class RetryBudget:
    """Retries may be at most ``percent`` % of the calls, beyond a reserve of ``reserve``: each
    call adds ``percent / 100`` of a token (up to ``reserve``), each retry spends one. An
    outage of every instance thus costs a few extra calls, not a multiple of the traffic."""

    def __init__(self, percent: int, reserve: float = 10.0) -> None:
        self.ratio = percent / 100
        self.reserve = reserve if percent else 0.0
        self.tokens = self.reserve

    def deposit(self) -> None:
        self.tokens = min(self.reserve, self.tokens + self.ratio)

    def withdraw(self) -> bool:
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class ServiceClient:
    """One service: its instances, its breaker, its retry budget, one pooled HTTP client."""

    def __init__(
        self,
        service: ServiceName,
        urls: str | Sequence[str],
        breakers: Breakers | None = None,
        *,
        call_timeout: float = 5.0,
        retry_budget_percent: int = 20,
    ) -> None:
        self.service = service
        breakers = breakers or Breakers(threshold=5, open_seconds=2.0)
        self.pool = InstancePool(service, [urls] if isinstance(urls, str) else urls, breakers)
        self.breaker = breakers.get(service.value)
        self.call_timeout = call_timeout
        self.budget = RetryBudget(retry_budget_percent)
        self.retries = 0
        self.retries_refused = 0
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(call_timeout, connect=min(call_timeout, CONNECT_TIMEOUT_SECONDS)),
            # Every connection kept alive (idle ones close after 5 s): with 20 kept, a burst
            # of more than 20 calls in flight closed the rest on release and the next burst
            # connected again (two TCP connects per call in a saturated profile of `me`).
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
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
        """One call through the service's breaker to one of its instances (more for a read that
        fails to reach one); a 5xx answer raises ``ServiceUnavailable``, but only failures to
        reach the service (transport errors, timeouts, 502/504) count for the breakers."""
        deadline = _DEADLINE.get()
        if deadline is not None and deadline <= time.monotonic():
            raise ServiceUnavailable(self.service, "request deadline passed")
        try:
            async with self.breaker:
                response = await self._attempts(method, path, params, json, headers, deadline)
        except CircuitOpen as error:
            raise ServiceUnavailable(self.service, "circuit open") from error
        except _Unreachable as error:
            raise ServiceUnavailable(self.service, error.reason) from error
        if response.status_code >= 500:
            raise ServiceUnavailable(self.service, f"HTTP {response.status_code}")
        return response

    async def _attempts(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        json: Any,
        headers: dict[str, str] | None,
        deadline: float | None,
    ) -> httpx.Response:
        retryable = method.upper() in IDEMPOTENT_METHODS
        self.budget.deposit()
        tried: list[Instance] = []
        while True:
            instance = self.pool.pick(exclude=tried)
            if instance is None:
                raise _Unreachable("no instance available")
            timeout = self.call_timeout
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout <= 0:
                    raise _Unreachable("request deadline passed")
            tried.append(instance)
            try:
                return await self._attempt(instance, method, path, params, json, headers, timeout)
            except CircuitOpen:
                continue  # opened by other calls since it was picked: not an attempt
            except _Unreachable as error:
                if not retryable or len(tried) > MAX_RETRIES or not self.pool.has_another(tried):
                    raise
                if not self.budget.withdraw():
                    self.retries_refused += 1
                    raise
                self.retries += 1
                _log.info(
                    "service_call_retried",
                    service=self.service.value,
                    instance=instance.label,
                    reason=error.reason,
                )

    async def _attempt(
        self,
        instance: Instance,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        json: Any,
        headers: dict[str, str] | None,
        seconds: float,
    ) -> httpx.Response:
        if instance.host_header:
            headers = {**(headers or {}), "host": instance.host_header}
        instance.in_flight += 1
        try:
            async with instance.breaker:
                try:
                    async with asyncio.timeout(seconds):
                        response = await self.http.request(
                            method,
                            instance.url(path),
                            params=params or None,
                            json=json,
                            headers=headers,
                            timeout=httpx.Timeout(
                                seconds, connect=min(seconds, CONNECT_TIMEOUT_SECONDS)
                            ),
                            extensions=instance.request_extensions(),
                        )
                except (httpx.HTTPError, TimeoutError) as error:
                    raise _Unreachable(type(error).__name__) from error
                if response.status_code in UNREACHABLE_STATUSES:
                    raise _Unreachable(f"HTTP {response.status_code}")
                return response
        finally:
            instance.in_flight -= 1

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
    #: A validation answer (no own ``code``, an ``errors`` list of ``loc``/``msg``) names each
    #: field in the message (``time_zone: unknown time zone``), not just "invalid input".
    field_messages: bool = False

    def error(self, response: httpx.Response) -> UserFacingError:
        try:
            body = response.json()
            detail = body.get("detail") or "request refused"
            own_code = body.get("code")
        except (ValueError, AttributeError):
            body, detail, own_code = None, "request refused", None
        if isinstance(detail, list):  # FastAPI validation details
            detail = "invalid input"
        if self.field_messages and own_code is None and isinstance(body, dict):
            detail = _field_messages(body.get("errors")) or detail
        refusal = self.by_status.get(response.status_code, self.otherwise)
        message = refusal.message or str(detail)
        if isinstance(own_code, str) and own_code in self.passed_codes:
            return UserFacingError(message, own_code)
        if isinstance(own_code, str) and own_code in self.renamed_codes:
            return UserFacingError(message, self.renamed_codes[own_code])
        if refusal.retry_after:  # like the gateway's own limiter: when to try again
            return UserFacingError(message, refusal.code, retryAfter=retry_after(response))
        return UserFacingError(message, refusal.code)


#: The longest message a validation answer becomes (its field messages are cut to fit).
MAX_FIELD_MESSAGES = 500


def _field_messages(errors: Any) -> str | None:
    """``field: message; ...`` of a problem's validation ``errors`` (the field is the last
    part of ``loc``; the input itself is never repeated), at most ``MAX_FIELD_MESSAGES``."""
    if not isinstance(errors, list):
        return None
    parts = []
    for error in errors:
        if not isinstance(error, dict) or not isinstance(error.get("msg"), str):
            continue
        loc = [str(p) for p in error.get("loc") or [] if p != "body"]
        parts.append(f"{loc[-1]}: {error['msg']}" if loc else error["msg"])
    text = "; ".join(parts)
    return text if len(text) <= MAX_FIELD_MESSAGES else text[: MAX_FIELD_MESSAGES - 1] + "…"


def _upper_snake(code: str) -> str:
    """``SlugTaken`` -> ``SLUG_TAKEN``, the GraphQL spelling of codes."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", code).upper()


#: A workflow run action refused for the run's state (the workflow service's 409).
RUN_STATE_CONFLICT = "RUN_STATE_CONFLICT"

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
    # The user service's problem ``code`` is a ``UserError`` (services/user/errors.py): an
    # unknown or invisible user is NOT_FOUND, another tenant or a missing permission FORBIDDEN,
    # a field breaking its rule BAD_USER_INPUT naming the field; refused preferences and
    # account changes keep their own name, with the service's message (it names the key).
    ServiceName.user: ErrorTable(
        unavailable="the user service is unavailable",
        by_status={
            401: Refusal(UNAUTHENTICATED, "not authenticated"),
            403: Refusal(FORBIDDEN),
            404: Refusal(NOT_FOUND, "not found"),
            429: Refusal(RATE_LIMITED, retry_after=True),
        },
        otherwise=Refusal(BAD_USER_INPUT),
        renamed_codes={
            code: _upper_snake(code) for code in ("InvalidPreferences", "AccountChangeRefused")
        },
        field_messages=True,
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
    # The workflow service's run management (services/workflow/runs/): a run outside the
    # caller's scope is the 404 of a run that does not exist; an action on a run in the wrong
    # state (cancel a closed run, retry a running one, a stack trace of a closed one) is a 409.
    ServiceName.workflow: ErrorTable(
        unavailable="the workflow service is unavailable",
        by_status={
            401: Refusal(UNAUTHENTICATED, "not authenticated"),
            403: Refusal(FORBIDDEN),
            404: Refusal(NOT_FOUND, "workflow run not found"),
            409: Refusal(RUN_STATE_CONFLICT),
            429: Refusal(RATE_LIMITED, retry_after=True),
        },
        otherwise=Refusal(BAD_USER_INPUT),
        field_messages=True,
    ),
    # The file service's problem ``code`` is a ``FileError`` (workflows/file/contracts.py): an
    # unknown, deleted or another tenant's file is NOT_FOUND; what a client acts on keeps its
    # own name (a file still scanning or quarantined, the quota, the size and type limits).
    ServiceName.file: ErrorTable(
        unavailable="the file service is unavailable",
        by_status={
            401: Refusal(UNAUTHENTICATED, "not authenticated"),
            403: Refusal(FORBIDDEN),
            404: Refusal(NOT_FOUND, "file not found"),
            429: Refusal(RATE_LIMITED, retry_after=True),
        },
        otherwise=Refusal(BAD_USER_INPUT),
        renamed_codes={
            code: _upper_snake(code)
            for code in ("FileNotReady", "QuotaExceeded", "TooLarge", "TypeNotAllowed")
        },
        field_messages=True,
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


#: The services the gateway calls (each has a row in ``REFUSALS``).
BACKENDS = (
    ServiceName.user,
    ServiceName.auth,
    ServiceName.tenant,
    ServiceName.workflow,
    ServiceName.file,
)


class ServiceClients:
    """A client per backend, their breakers, and the task checking their instances."""

    def __init__(self, settings: Settings) -> None:
        self.breakers = Breakers(settings.breaker_failure_threshold, settings.breaker_open_seconds)
        self.check_seconds = settings.instance_check_seconds
        self._clients = {
            service: ServiceClient(
                service,
                settings.service_urls(service),
                self.breakers,
                call_timeout=settings.service_call_timeout_seconds,
                retry_budget_percent=settings.retry_budget_percent,
            )
            for service in BACKENDS
        }
        self.user = self._clients[ServiceName.user]
        self.auth = self._clients[ServiceName.auth]
        self.tenant = self._clients[ServiceName.tenant]
        self.workflow = self._clients[ServiceName.workflow]
        self.file = self._clients[ServiceName.file]
        self._checker: asyncio.Task[None] | None = None

    def client(self, service: ServiceName) -> ServiceClient:
        return self._clients[service]

    def of(self, service: ServiceName, caller: Caller | None = None) -> ServiceCall:
        """Calls to ``service`` made for ``caller``."""
        return ServiceCall(self.client(service), REFUSALS[service], caller or Caller())

    async def check_instances(self, http: httpx.AsyncClient) -> None:
        """Resolve every service's names again and ask each instance whether it is ready."""
        for client in self._clients.values():
            await client.pool.resolve()
        await asyncio.gather(*(c.pool.check(http) for c in self._clients.values()))

    async def start(self) -> None:
        """Resolve the services' names; start the active checks (the gateway's lifespan)."""
        for client in self._clients.values():
            await client.pool.resolve()
        if self.check_seconds > 0 and self._checker is None:
            self._checker = asyncio.create_task(self._check_forever(), name="instance-checks")

    async def _check_forever(self) -> None:
        async with httpx.AsyncClient() as http:
            while True:
                try:
                    await self.check_instances(http)
                except Exception:  # a check must never stop checking
                    _log.exception("service_instance_check_failed")
                await asyncio.sleep(self.check_seconds)

    async def aclose(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checker
            self._checker = None
        for client in self._clients.values():
            await client.aclose()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ServiceClients]:
        await self.start()
        try:
            yield self
        finally:
            await self.aclose()


class RoutingMetrics(Collector):
    """Breaker states, instance readiness and retries on ``/metrics`` (docs/gateway.md)."""

    def __init__(self, services: ServiceClients) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "adx_gateway_circuit_state",
            'Circuit breaker state: 0 closed, 1 half-open, 2 open (instance "*" is the '
            "service's own breaker).",
            labels=["service", "instance"],
        )
        ready = GaugeMetricFamily(
            "adx_gateway_instance_ready",
            "Whether the last active check (/health/ready) found the instance ready.",
            labels=["service", "instance"],
        )
        in_flight = GaugeMetricFamily(
            "adx_gateway_instance_in_flight",
            "Calls in flight to the instance.",
            labels=["service", "instance"],
        )
        retries = CounterMetricFamily(
            "adx_gateway_retries",
            "Reads tried again on another instance.",
            labels=["service"],
        )
        refused = CounterMetricFamily(
            "adx_gateway_retries_refused",
            "Retries not made because the service's retry budget was spent.",
            labels=["service"],
        )
        for service in BACKENDS:
            client = self.services.client(service)
            name = service.value
            state.add_metric([name, "*"], STATE_VALUES[client.breaker.state])
            for instance in client.pool.instances:
                labels = [name, instance.label]
                state.add_metric(labels, STATE_VALUES[instance.breaker.state])
                ready.add_metric(labels, 1 if instance.ready else 0)
                in_flight.add_metric(labels, instance.in_flight)
            retries.add_metric([name], client.retries)
            refused.add_metric([name], client.retries_refused)
        yield from (state, ready, in_flight, retries, refused)
