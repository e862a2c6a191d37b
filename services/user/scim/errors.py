"""SCIM's error answers (RFC 7644 section 3.12): ``urn:ietf:params:scim:api:messages:2.0:Error``
as ``application/scim+json``, for every failure of a ``/scim/v2`` route, its credential check
included (``ScimRoute`` catches them; the app's problem+json handlers never see them)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Final

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError
from scim2_models import Context, Error, SCIMException
from starlette.requests import Request
from starlette.responses import Response

from services.common.errors import DomainError

SCIM_JSON: Final = "application/scim+json"


class ScimJSONResponse(JSONResponse):
    media_type = SCIM_JSON


#: The SCIM error message, for the OpenAPI document.
ERROR_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["schemas", "status"],
    "properties": {
        "schemas": {"type": "array", "items": {"type": "string"}},
        "status": {"type": "string"},
        "scimType": {"type": "string"},
        "detail": {"type": "string"},
    },
}
_DESCRIPTIONS: Final = {
    400: "A filter, sort, count, attribute list, body or value this endpoint refuses "
    "(scimType says which: invalidFilter, invalidPath, invalidValue, invalidSyntax, "
    "mutability, noTarget)",
    401: "No valid SCIM token of a tenant: missing, unknown, revoked or altered",
    403: "The token's issuer may not make this change (an owner by a non-owner)",
    404: "No such resource in the token's tenant, or no such endpoint",
    405: "The endpoint takes GET only",
    409: "uniqueness: the userName is the address of a member already",
    413: "The body is larger than this endpoint takes",
    501: "Not supported (ServiceProviderConfig says what is)",
    503: "The workflow carrying the write did not answer in time, or Temporal is down; "
    "retry (the write is idempotent on its resource)",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI entries of SCIM errors with these statuses."""
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": {SCIM_JSON: {"schema": ERROR_SCHEMA}},
        }
        for status in statuses
    }


class ScimError(Exception):
    def __init__(
        self, status: int, detail: str, scim_type: str | None = None, *, allow: str | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type
        self.allow = allow


def scim_json(body: dict[str, Any], status: int = 200, **headers: str) -> JSONResponse:
    return ScimJSONResponse(body, status_code=status, headers=headers or None)


def error_response(error: ScimError) -> JSONResponse:
    body = Error(status=error.status, scim_type=error.scim_type, detail=error.detail)
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if error.status == 401 else {}
    if error.allow is not None:
        headers["Allow"] = error.allow
    return scim_json(
        body.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE), error.status, **headers
    )


def unauthorized(detail: str) -> ScimError:
    return ScimError(401, detail)


def not_found(detail: str) -> ScimError:
    return ScimError(404, detail)


def invalid_filter(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidFilter")


def invalid_value(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidValue")


def not_implemented(detail: str) -> ScimError:
    return ScimError(501, detail)


def invalid_syntax(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidSyntax")


def mutability(detail: str) -> ScimError:
    return ScimError(400, detail, "mutability")


def uniqueness(detail: str) -> ScimError:
    return ScimError(409, detail, "uniqueness")


def from_validation(error: ValidationError) -> ScimError:
    """A body ``scim2-models`` refused: the first error's ``scimType`` where it gives one (an
    unknown path, a read-only attribute), else ``invalidValue``, naming the field (never the
    value: it may be a megabyte, or personal)."""
    found = error.errors()
    if not found:
        return ScimError(400, "invalid", "invalidValue")
    first = found[0]
    context = first.get("ctx") or {}
    scim_type = context.get("scim_type") if isinstance(context, dict) else None
    where = ".".join(str(part) for part in first.get("loc", ()))[:200]
    message = str(first.get("msg", "invalid"))[:300]
    if first.get("type") == "extra_forbidden":
        message = "not an attribute of the schema"
        scim_type = "invalidValue"
    return ScimError(400, f"{where}: {message}" if where else message, scim_type or "invalidValue")


def from_scim_exception(error: SCIMException) -> ScimError:
    return ScimError(400, str(error.detail or error)[:300], error.scim_type or "invalidValue")


class ScimRefusal(DomainError):
    """A refusal raised where a ``DomainError`` is expected (``workflow_calls``' mapping of a
    failed run), carrying its SCIM ``scimType``."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.scim_type = status, scim_type


class ScimRoute(APIRoute):
    """An ``APIRoute`` whose failures answer in SCIM's error format."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def scim_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ScimError as error:
                return error_response(error)
            except RequestValidationError as error:
                where = ", ".join(".".join(map(str, e.get("loc", ()))) for e in error.errors())
                return error_response(invalid_value(f"invalid parameters: {where}"))
            except DomainError as error:
                scim_type = getattr(error, "scim_type", None)
                return error_response(ScimError(error.status, error.detail, scim_type))

        return scim_handler
