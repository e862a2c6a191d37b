"""Business failures raised by activities: non-retryable ``ApplicationError``s with a stable type.

The types themselves are each domain's error enum (``AuthError`` in
``workflows/auth/contracts.py``, ``UserError`` in ``workflows/user/contracts.py``)."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError


def business_error(kind: str, message: str) -> ApplicationError:
    """A failure retrying cannot fix (bad input, conflict); ``kind`` is its stable error type."""
    return ApplicationError(message, type=str(kind), non_retryable=True)
