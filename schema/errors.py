"""GraphQL errors meant for clients; everything else is masked in production."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from pydantic import ValidationError

BAD_USER_INPUT = "BAD_USER_INPUT"
NOT_FOUND = "NOT_FOUND"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
RATE_LIMITED = "RATE_LIMITED"

OUTAGE_RETRY_AFTER = 2
"""``extensions.retryAfter`` of ``SERVICE_UNAVAILABLE``: seconds a client should wait (a hint)."""


class UserFacingError(GraphQLError):
    """An error whose message is safe to show; ``code`` goes into ``extensions.code``."""

    def __init__(self, message: str, code: str = BAD_USER_INPUT, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": code, **extensions})


def refused_input(
    error: ValidationError, what: str, fallback: str = "its fields"
) -> UserFacingError:
    """``BAD_USER_INPUT`` naming the top-level fields a request model refused (never the values
    given: a megabyte value stays out of the answer and the logs)."""
    fields = sorted({str(e["loc"][0]) for e in error.errors() if e.get("loc")})
    return UserFacingError(f"invalid {what}: {', '.join(fields) or fallback}", BAD_USER_INPUT)


def is_user_facing(error: GraphQLError) -> bool:
    original = error.original_error
    # Validation and parse errors have no original error and are always safe to show.
    return original is None or isinstance(original, UserFacingError)
