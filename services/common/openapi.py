"""OpenAPI documents that say what the services really answer: every error is an RFC 9457
``application/problem+json`` body (``services.common.errors``), described once here as
``ProblemDetails``.

- ``problems(...)``: the ``responses=`` of a route, for the errors its own code raises
  (``problems(404)``, ``problems({409: "Already enrolled"}, 401)``).
- ``document_problems(app)`` (``create_app`` calls it): the errors every route of a kind can give,
  whoever wrote it, are added to the document — a body's 400 (malformed JSON, refused by the
  body guard), 413 (too large) and 422 (validation), a parameter's 422, every route's 503 (a
  backing store down) — and every error response, declared here or by hand or FastAPI's own 422,
  gets the problem+json content and the headers ``problem()`` sends (``WWW-Authenticate`` on
  401, ``Retry-After`` on 429 and, when known, 503).

A response that declares a content of its own other than problem+json keeps it (e.g. the
readiness probe's 503 body); FastAPI's default 422 schema is replaced, since the app never sends
it (``install_error_handlers`` renders validation errors as problems).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = "#/components/schemas/ProblemDetails"

#: Default descriptions, by status.
DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request (body not JSON, not UTF-8, nested too deep) or refused input",
    401: "No valid credential: missing, malformed, expired, forged or revoked",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict with the current state",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input: the request does not match the documented shape or rules",
    429: "Too many requests: retry after `Retry-After` seconds",
    503: "A backing service is unavailable: retry shortly",
}

_RETRY_AFTER = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "integer", "minimum": 0},
}
#: Headers ``services.common.errors.problem`` sends with a status (True: always).
_HEADERS: dict[int, dict[str, tuple[bool, dict[str, Any]]]] = {
    401: {
        "WWW-Authenticate": (
            True,
            {"description": "The authentication scheme: `Bearer`.", "schema": {"type": "string"}},
        )
    },
    429: {"Retry-After": (True, _RETRY_AFTER)},
    503: {"Retry-After": (False, _RETRY_AFTER)},
}


class ValidationIssue(BaseModel):
    """One reason a request did not validate (pydantic's error, without the input)."""

    loc: list[str | int] = Field(description="Where: `body`, `query`, `path`, … then the field.")
    msg: str
    type: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details. Some problems carry more members (e.g. ``retry_after``,
    ``attempts_left``); clients ignore the ones they do not know."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        "about:blank",
        description="A URI naming the kind of problem (`https://adx.dev/problems/…`).",
    )
    title: str = Field(description="Short, human-readable summary of the kind of problem.")
    status: int = Field(ge=400, le=599, description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request.")
    errors: list[ValidationIssue] | None = Field(
        None, description="Validation problems only: each invalid part of the request."
    )
    retry_after: int | None = Field(
        None, ge=0, description="Rate limits and outages: seconds to wait before retrying."
    )


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    """One OpenAPI response object for a problem+json error."""
    response: dict[str, Any] = {
        "description": description or DESCRIPTIONS.get(status, "Error"),
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }
    headers = _headers(status)
    if headers:
        response["headers"] = headers
    return response


def problems(*statuses: int | Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route's own errors: statuses (default descriptions) or mappings of
    status to description, e.g. ``problems(401, {404: "No such user"})``."""
    responses: dict[int | str, dict[str, Any]] = {}
    for spec in statuses:
        items = spec.items() if isinstance(spec, Mapping) else [(spec, None)]
        for status, description in items:
            responses[status] = problem_response(status, description)
    return responses


def _headers(status: int) -> dict[str, Any]:
    return {
        name: {**header, "required": required}
        for name, (required, header) in _HEADERS.get(status, {}).items()
    }


def _is_error(status: str) -> bool:
    return status.isdigit() and int(status) >= 400


def _keeps_own_content(response: Mapping[str, Any]) -> bool:
    content = response.get("content") or {}
    if not content or PROBLEM_JSON in content:
        return False
    # FastAPI's default 422 (HTTPValidationError): never sent, replaced by ProblemDetails.
    schemas = [media.get("schema", {}) for media in content.values()]
    return not any("HTTPValidationError" in str(schema.get("$ref", "")) for schema in schemas)


def _document_operation(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    generic = [503]
    if operation.get("parameters"):
        generic.append(422)
    if "requestBody" in operation:
        generic += [400, 413, 422]
    for code in generic:
        responses.setdefault(str(code), {"description": DESCRIPTIONS[code]})
    for status, response in responses.items():
        if not _is_error(status) or _keeps_own_content(response):
            continue
        response["content"] = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
        response.setdefault("description", DESCRIPTIONS.get(int(status), "Error"))
        for name, header in _headers(int(status)).items():
            response.setdefault("headers", {}).setdefault(name, header)


def _problem_schemas() -> dict[str, Any]:
    schema = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    return {**definitions, "ProblemDetails": schema}


def _refs(node: object) -> set[str]:
    """Every ``$ref`` target in ``node``, however deep."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            ref = item.get("$ref")
            if isinstance(ref, str):
                found.add(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def document_problems(app: FastAPI) -> None:
    """Describe every error response of ``app``'s OpenAPI document as problem+json (module
    docstring). Wraps whatever ``app.openapi`` is by then, so call it after other wrappers."""
    build = app.openapi
    cached: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if cached:
            return cached
        document = build()
        for item in document.get("paths", {}).values():
            for method, operation in item.items():
                if method in ("get", "put", "post", "delete", "patch", "options", "head"):
                    _document_operation(operation)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(_problem_schemas())
        for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's, now unused
            others = {key: value for key, value in schemas.items() if key != name}
            if f"#/components/schemas/{name}" not in _refs([document.get("paths"), others]):
                schemas.pop(name, None)
        cached.update(document)
        return cached

    app.openapi = openapi  # type: ignore[method-assign]
