"""Who the current work acts for, as storage records it: set by the platform's security context
(``services.common.security_context.acting_as``), read by the audit trail. Storage's own, so that
storage needs nothing from the services above it."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Protocol


class Actor(Protocol):
    def audit_fields(self) -> dict[str, Any]:
        """Stored with each audit event: who acted, and the request that started it."""
        ...


current_actor: ContextVar[Actor | None] = ContextVar("adx_storage_actor", default=None)
