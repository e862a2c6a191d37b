"""Request-scoped context (request id, tenant, user) carried in ContextVars and bound into logs."""

from __future__ import annotations

from contextvars import ContextVar

import structlog

request_id_var: ContextVar[str | None] = ContextVar("adx_request_id", default=None)
tenant_id_var: ContextVar[str | None] = ContextVar("adx_tenant_id", default=None)


def bind_log_context(**values: object) -> None:
    """Bind non-empty values into every log line emitted from the current context."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})
