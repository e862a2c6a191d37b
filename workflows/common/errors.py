"""Business failures raised by activities: non-retryable ``ApplicationError``s with a stable type."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError


def business_error(kind: str, message: str) -> ApplicationError:
    """A failure retrying cannot fix (bad input, conflict); ``kind`` is its stable error type."""
    return ApplicationError(message, type=kind, non_retryable=True)


EMAIL_TAKEN = "EmailTaken"
INVALID_INPUT = "InvalidInput"
