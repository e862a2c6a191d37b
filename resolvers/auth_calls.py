"""Calling the auth service's HTTP API from resolvers, with its problem+json errors turned into
GraphQL errors and the caller's address forwarded for per-client throttling."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import strawberry

from gateway.service_clients import ServiceUnavailable
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

if TYPE_CHECKING:
    from gateway.context import GatewayContext

_CODES = {401: UNAUTHENTICATED, 403: FORBIDDEN, 404: NOT_FOUND, 429: RATE_LIMITED}
#: A problem's own ``code`` that a client acts on, passed on as ``extensions.code`` (any other
#: value is ignored: the code then follows from the status).
PASSED_CODES = frozenset({"PASSWORD_REQUIRED", "PASSWORD_MISMATCH"})


async def call_auth(
    info: strawberry.Info[GatewayContext],
    method: str,
    path: str,
    *,
    json: Any = None,
    authenticated: bool = False,
) -> Any:
    context = info.context
    headers = {}
    if context.client_ip:
        headers["x-forwarded-for"] = context.client_ip
    if authenticated:
        if not context.authorization:
            raise UserFacingError("sign in first", UNAUTHENTICATED)
        headers["authorization"] = context.authorization
    try:
        response = await context.state.services.auth.request(
            method, path, json=json, headers=headers
        )
    except ServiceUnavailable as error:
        raise UserFacingError(
            "the auth service is unavailable", SERVICE_UNAVAILABLE, retryAfter=OUTAGE_RETRY_AFTER
        ) from error
    if response.status_code >= 400:
        try:
            body = response.json()
            detail = body.get("detail") or "request refused"
            own_code = body.get("code")
        except (ValueError, AttributeError):
            detail, own_code = "request refused", None
        if isinstance(detail, list):  # FastAPI validation details
            detail = "invalid input"
        code = _CODES.get(response.status_code, BAD_USER_INPUT)
        if isinstance(own_code, str) and own_code in PASSED_CODES:
            code = own_code
        if code == RATE_LIMITED:  # like the gateway's own limiter: when to try again
            raise UserFacingError(str(detail), code, retryAfter=retry_after(response))
        raise UserFacingError(str(detail), code)
    return response.json() if response.content else None


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
