"""Business failures raised by activities: non-retryable ``ApplicationError``s with a stable type.

The types themselves are each domain's error enum (``AuthError`` in
``workflows/auth/contracts.py``, ``UserError`` in ``workflows/user/contracts.py``)."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError


def business_error(kind: str, message: str) -> ApplicationError:
    """A failure retrying cannot fix (bad input, conflict); ``kind`` is its stable error type."""
    return ApplicationError(message, type=str(kind), non_retryable=True)


def failed_step(error: BaseException, label: str, default_kind: str) -> ApplicationError:
    """A step's failure (an activity's, unwrapped to its cause) as the run's own
    non-retryable failure: ``<label>: <message>``, keeping the cause's error type (else
    ``default_kind``)."""
    cause = error.cause if isinstance(error, ActivityError) else error
    kind = cause.type if isinstance(cause, ApplicationError) and cause.type else None
    message = cause.message if isinstance(cause, ApplicationError) else str(error)
    return ApplicationError(f"{label}: {message}", type=kind or default_kind, non_retryable=True)
