"""Rate limiting of ``/graphql`` per client and per tenant (DESIGN.md section 6).

Counts live in Redis moving windows (the ``limits`` library, atomic Lua scripts), so every gateway
replica shares them. All keys sit under ``<ADX_REDIS_PREFIX>:ratelimit:``.

- A request without a valid access token counts against its client address (X-Forwarded-For is
  believed only from ``ADX_TRUSTED_PROXIES``).
- A signed-in request counts against its user (``sub``) and, when the token names one, against
  its tenant (``tid``); the user's address does not matter.
- A mutation counts ``ADX_RATE_LIMIT_MUTATION_COST`` times.

Over a limit, HTTP gets 429 with ``Retry-After`` and a GraphQL error ``RATE_LIMITED``; over
graphql-transport-ws a refused ``subscribe`` gets an ``error`` message carrying that error (the
connection stays open) and a refused ``connection_init`` closes the socket with 4429. The GraphiQL page and assets, health and metrics are never limited.

Redis unavailable: requests are let through (fail open: a limiter outage must not become a
gateway outage), without asking Redis again for ``STORAGE_RETRY_SECONDS``; the outage is logged
once as an error, and its end once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import httpx
from fastapi.responses import JSONResponse
from graphql import GraphQLError, OperationType, get_operation_ast
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.service_clients import ServiceUnavailable
from schema.errors import RATE_LIMITED, UserFacingError
from schema.limits import DOCUMENTS
from services.common.logging import get_logger
from services.common.settings import Settings
from services.common.tokens import Principal
from storage.rate_windows import moving_windows, seconds_until_room
from storage.redis import RedisKeys

_log = get_logger(__name__)
#: While Redis is unavailable the limiter fails open and asks Redis again after this long.
STORAGE_RETRY_SECONDS = 1.0


class Caller(Protocol):
    """Who a request comes from, as the limiter needs it (``GatewayContext`` is one)."""

    @property
    def client_ip(self) -> str | None: ...

    async def optional_principal(self) -> Principal | None: ...


class LimitScope(StrEnum):
    client = "client"
    user = "user"
    tenant = "tenant"


@dataclass(frozen=True)
class Refusal:
    """Which limit a request ran into and when the caller may try again."""

    scope: LimitScope
    limit: int
    window_seconds: int
    retry_after: int

    def error(self) -> UserFacingError:
        return UserFacingError(
            f"Too many requests for this {self.scope}: at most {self.limit} per "
            f"{self.window_seconds} s. Retry in {self.retry_after} s.",
            RATE_LIMITED,
            limit=self.scope.value,
            retryAfter=self.retry_after,
        )

    def http_response(self) -> JSONResponse:
        return JSONResponse(
            {"errors": [self.error().formatted]},
            status_code=429,
            headers={"Retry-After": str(self.retry_after)},
        )


class RateLimitExceeded(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.error().message)
        self.refusal = refusal


def operation_cost(query: str | None, operation_name: str | None, mutation_cost: int) -> int:
    """``mutation_cost`` for a mutation, else 1 (also for a query that does not parse: the schema
    refuses it later). Parsing stops at the schema's token limit."""
    if not query or mutation_cost == 1:
        return 1
    try:  # the schema reads the same parsed document (schema/limits.py, DOCUMENTS)
        operation = get_operation_ast(DOCUMENTS.document(query), operation_name)
    except GraphQLError:
        return 1
    return mutation_cost if operation and operation.operation == OperationType.MUTATION else 1


async def _buckets(context: Caller) -> list[tuple[LimitScope, str]]:
    """The counters a request of this caller goes into."""
    try:
        principal = await context.optional_principal()
    except (RedisError, ServiceUnavailable, httpx.HTTPError):
        principal = None  # the token cannot be checked right now; the resolvers will say so
    if principal is None:
        return [(LimitScope.client, context.client_ip or "unknown")]
    buckets = [(LimitScope.user, principal.user_id)]
    if principal.tenant_id:
        buckets.append((LimitScope.tenant, str(principal.tenant_id)))
    return buckets


class RateLimiter:
    """The gateway's limits over one Redis connection pool (shared with the rest of the process)."""

    def __init__(self, settings: Settings, redis: Redis, keys: RedisKeys) -> None:
        self.enabled = settings.rate_limit_enabled
        self.mutation_cost = settings.rate_limit_mutation_cost
        self.window_seconds = settings.rate_limit_window_seconds
        self._items: dict[LimitScope, RateLimitItem] = {
            scope: RateLimitItemPerSecond(amount, self.window_seconds)
            for scope, amount in (
                (LimitScope.client, settings.rate_limit_anonymous_requests),
                (LimitScope.user, settings.rate_limit_user_requests),
                (LimitScope.tenant, settings.rate_limit_tenant_requests),
            )
        }
        self._windows = moving_windows(redis, keys("ratelimit"))
        self._storage_down = False
        self._retry_storage_at = 0.0

    async def check(
        self, context: Caller, operations: list[tuple[str | None, str | None]]
    ) -> Refusal | None:
        """Count one request carrying ``(query, operation name)`` pairs for the caller; the limit
        it exceeded, if any."""
        if not self.enabled:
            return None
        if self._storage_down and time.monotonic() < self._retry_storage_at:
            return None  # failing open without waiting for a Redis known to be away
        cost = sum(operation_cost(query, name, self.mutation_cost) for query, name in operations)
        buckets = await _buckets(context)
        try:
            refusal = await self._hit(buckets, cost)
        except StorageError as error:
            if not self._storage_down:
                _log.error(
                    "rate_limit_storage_unavailable",
                    policy="fail open: requests are not limited until Redis is back",
                    error=repr(error.storage_error),
                )
            self._storage_down = True
            # A stalled Redis costs a request its socket timeout: only one request per interval
            # pays it to find out whether Redis is back, the others pass straight through.
            self._retry_storage_at = time.monotonic() + STORAGE_RETRY_SECONDS
            return None
        if self._storage_down:
            _log.info("rate_limit_storage_recovered")
            self._storage_down = False
        return refusal

    async def _hit(self, buckets: list[tuple[LimitScope, str]], cost: int) -> Refusal | None:
        for scope, identity in buckets:
            item = self._items[scope]
            if not await self._windows.hit(
                item, scope.value, identity, cost=min(cost, item.amount)
            ):
                retry_after = await seconds_until_room(self._windows, item, scope.value, identity)
                return Refusal(scope, item.amount, self.window_seconds, retry_after)
        return None
