"""One error model: domain errors carry an HTTP status and render as RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from limits.errors import StorageError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from temporalio.service import RPCError, RPCStatusCode

from services.common.logging import get_logger
from storage.db import DatabaseUnavailableError

PROBLEM_JSON = "application/problem+json"
#: Errors meaning a backing store is unreachable right now: 503 + Retry-After, not 500.
BACKEND_UNAVAILABLE: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    StorageError,
    DatabaseUnavailableError,
)
#: Temporal answers meaning "not reachable now" rather than "this call is wrong".
TEMPORAL_UNAVAILABLE = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED}
)
_log = get_logger(__name__)


class DomainError(Exception):
    """Base of every expected failure; ``status`` is the HTTP status it maps to."""

    status: int = 400
    type: str = "about:blank"
    title: str = "Bad request"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}


class NotFoundError(DomainError):
    status = 404
    type = "https://adx.dev/problems/not-found"
    title = "Not found"


class ConflictError(DomainError):
    status = 409
    type = "https://adx.dev/problems/conflict"
    title = "Conflict"


class InvalidInputError(DomainError):
    status = 422
    type = "https://adx.dev/problems/invalid-input"
    title = "Invalid input"


class UnauthorizedError(DomainError):
    status = 401
    type = "https://adx.dev/problems/unauthorized"
    title = "Unauthorized"


class ForbiddenError(DomainError):
    status = 403
    type = "https://adx.dev/problems/forbidden"
    title = "Forbidden"


class ServiceUnavailableError(DomainError):
    status = 503
    type = "https://adx.dev/problems/unavailable"
    title = "Service unavailable"


class RateLimitedError(DomainError):
    """429 with ``Retry-After``; subclasses name what was limited (their type and message)."""

    status = 429
    type = "https://adx.dev/problems/too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, extra={"retry_after": retry_after})
        self.retry_after = retry_after


def problem(
    status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any
) -> JSONResponse:
    body = {"type": type_, "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status in (429, 503) and "retry_after" in extra:
        headers = {"Retry-After": str(extra["retry_after"])}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def sqlstate_of(error: DBAPIError) -> str:
    """The PostgreSQL error code behind a SQLAlchemy error (asyncpg keeps it on the cause)."""
    for candidate in (error.orig, getattr(error.orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None)
        if isinstance(code, str):
            return code
    return ""


def allowed_methods(request: Request) -> str:
    """Every method the request's path takes, across all the routes declaring it (Starlette
    names only the first route's methods when several routes share a path)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        route_methods = getattr(route, "methods", None)
        if match != Match.NONE and route_methods:
            methods |= set(route_methods)
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    """Render every error as problem+json; unexpected ones are logged and never leak a trace."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return problem(exc.status, exc.title, exc.detail, exc.type, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        if errors and all(e["type"] == "json_invalid" for e in errors):
            # Not JSON at all (truncated, trailing comma, single quotes): unreadable, like the
            # bodies JsonBodyGuardMiddleware refuses, so the same 400 (docs/gateway.md).
            return problem(
                400,
                "Malformed request body",
                "The request body is not valid JSON.",
                "https://adx.dev/problems/malformed-body",
            )
        return problem(
            422,
            "Invalid input",
            "The request did not match the expected shape.",
            "https://adx.dev/problems/invalid-input",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}.get(
            exc.status_code, "HTTP error"
        )
        response = problem(exc.status_code, title, str(exc.detail))
        if exc.headers:  # e.g. the `Allow` of a 405 (RFC 9110)
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            response.headers["Allow"] = allowed_methods(request)
        return response

    async def _backend_down(_: Request, exc: Exception) -> JSONResponse:
        # Redis (sessions deny-list, throttles, rate windows) or PostgreSQL unreachable: the
        # caller may retry; readiness reports the same outage, so orchestrators stop routing
        # here meanwhile.
        _log.warning("backend_unavailable", error_type=type(exc).__name__, error=str(exc))
        return problem(
            503,
            "Service unavailable",
            "A backing service is unavailable; try again shortly.",
            "https://adx.dev/problems/unavailable",
            retry_after=2,
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # SQLSTATE class 22 (data exception): a value PostgreSQL cannot hold, such as NUL in
        # text. That is bad input, not a server fault; anything else stays a 500.
        if sqlstate_of(exc).startswith("22"):
            return problem(
                422,
                "Invalid input",
                "The request contains characters or values that cannot be stored.",
                "https://adx.dev/problems/invalid-input",
            )
        if exc.connection_invalidated:  # the server went away mid-statement (stopped, restarted)
            return await _backend_down(request, exc)
        _log.exception("database_error", error_type=type(exc.orig).__name__)
        return problem(500, "Internal error", "An unexpected error occurred.")

    for backend_error in BACKEND_UNAVAILABLE:
        app.add_exception_handler(backend_error, _backend_down)

    @app.exception_handler(TimeoutError)
    async def _timed_out(request: Request, exc: TimeoutError) -> JSONResponse:
        # A dependency (Temporal past ADX_TEMPORAL_RPC_DEADLINE_SECONDS, ...) did not answer.
        return await _backend_down(request, exc)

    @app.exception_handler(RPCError)
    async def _temporal(request: Request, exc: RPCError) -> JSONResponse:
        if exc.status in TEMPORAL_UNAVAILABLE:
            return await _backend_down(request, exc)
        _log.error("temporal_error", status=exc.status.name if exc.status else None)
        return problem(500, "Internal error", "An unexpected error occurred.")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        _log.exception("unhandled_error", error_type=type(exc).__name__)
        return problem(500, "Internal error", "An unexpected error occurred.")
