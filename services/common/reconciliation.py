"""The check every ``data_migration`` activity makes first (workflows/reconciliation/): only the
platform itself may run them (they read or compare every member of a tenant), and their input
must be well formed (a bad one fails for good: retrying cannot fix it)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from services.common.security_context import ActorKind, denied, require_context
from workflows.common.errors import business_error
from workflows.reconciliation.contracts import ReconciliationError
from workflows.reconciliation.rules import ReconciliationInputError, parse_bound

T = TypeVar("T")


def require_platform() -> None:
    if require_context().actor != ActorKind.system:
        raise denied("only the platform runs data reconciliation")


def checked(rule: Callable[[], T]) -> T:
    """``rule()``, its input error a non-retryable business failure."""
    try:
        return rule()
    except ReconciliationInputError as error:
        raise business_error(ReconciliationError.INVALID_INPUT, str(error)) from None


def key_range(after: str, upto: str) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    return checked(lambda: (parse_bound(after, "after"), parse_bound(upto, "upto")))
