"""How the gateway logs GraphQL errors: a client's mistake is one line, a bug is one traceback.

Strawberry's default ``process_errors`` logs every error, a wrong password included, at ERROR
with its traceback (rendered by Rich, with each frame's local variables, in development: the
typed password, tokens, ``Authorization`` values). Here:

- client errors (parse and validation errors, ``UserFacingError``: bad input, not found,
  unauthenticated, forbidden, rate limited, a service unavailable) are one INFO line, WARNING for
  ``RATE_LIMITED`` and ``SERVICE_UNAVAILABLE``, naming the operation, the error code and the
  path, with no traceback and no message (messages may echo what the client sent);
- an outage (a dependency unreachable, ``schema.extensions.is_outage``) is one WARNING line
  naming the exception types, no traceback: during an outage every request fails alike;
- anything else is unexpected: one ERROR line with the traceback (frames and source lines, never
  locals; ``services/common/logging.py`` renders and redacts it).
"""

from __future__ import annotations

import contextlib
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from schema.errors import RATE_LIMITED, SERVICE_UNAVAILABLE, UserFacingError
from schema.extensions import is_outage
from services.common.logging import get_logger

_log = get_logger("gateway.graphql")

#: Code logged for errors that carry none: the document did not parse or validate.
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
#: Client error codes an operator should see (throttling, outages), logged at WARNING.
_WARNING_CODES = frozenset({RATE_LIMITED, SERVICE_UNAVAILABLE})


def _operation(context: ExecutionContext | None) -> dict[str, Any]:
    """The operation's name and type, as far as the document gives them (it may not parse)."""
    if context is None:
        return {}
    fields: dict[str, Any] = {}
    with contextlib.suppress(Exception):  # an unparsable document has no operation type
        fields["operation"] = context.operation_name
        fields["operation_type"] = context.operation_type.value
    return fields


def _path(error: GraphQLError) -> str | None:
    return ".".join(str(part) for part in error.path) if error.path else None


def is_client_error(error: GraphQLError) -> bool:
    """Caused by the request, not by a bug: parse/validation errors (no original error, or one
    of graphql-core's own) and ``UserFacingError``."""
    original = error.original_error
    return original is None or isinstance(original, GraphQLError)


def _causes(error: BaseException) -> list[str]:
    """Type names along the cause chain (at most 8), outermost first."""
    names: list[str] = []
    current: BaseException | None = error
    while current is not None and len(names) < 8:
        names.append(type(current).__name__)
        current = current.__cause__ or current.__context__
    return names


def log_graphql_error(error: GraphQLError, context: ExecutionContext | None = None) -> None:
    fields = {**_operation(context), "path": _path(error)}
    original = error.original_error
    if is_client_error(error):
        code = (error.extensions or {}).get("code") or VALIDATION_FAILED
        if original is not None and original.__cause__ is not None:
            fields["cause_type"] = type(original.__cause__).__name__
        if isinstance(original, UserFacingError) and code in _WARNING_CODES:
            _log.warning("graphql_client_error", code=code, **fields)
        else:
            _log.info("graphql_client_error", code=code, **fields)
        return
    assert original is not None  # is_client_error: no original error is a client error
    if is_outage(original):
        _log.warning(
            "graphql_dependency_unavailable",
            code=SERVICE_UNAVAILABLE,
            causes=_causes(original),
            **fields,
        )
        return
    _log.error(
        "graphql_unexpected_error",
        error_type=type(original).__name__,
        **fields,
        exc_info=original,
    )


class LoggedErrorsSchema(strawberry.Schema):
    """``strawberry.Schema`` whose errors are logged by ``log_graphql_error``. Strawberry calls
    ``process_errors`` before extensions (masking) rewrite the errors, so the original error
    and its code are still there."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            log_graphql_error(error, execution_context)
