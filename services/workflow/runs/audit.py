"""The audit trail of run management: who did what to which run, and why.

Each action is appended to one Redis stream (``<prefix>:workflow:audit``, trimmed to about
``MAX_ENTRIES``) and written as a structured log line (``workflow_run_action``), the durable
copy shipped with the logs. The workflow service owns no database schema; Temporal itself keeps
the reason of a terminate or reset in the run's history, and a retry's link in its memo.
Entries hold ids, the action and the caller's reason; no payloads."""

from __future__ import annotations

import time
from typing import Any

from services.common.logging import get_logger
from services.common.resources import Resources
from services.common.tokens import Principal

MAX_ENTRIES = 100_000
_log = get_logger(__name__)


def stream_key(resources: Resources) -> str:
    return resources.redis_keys("workflow", "audit")


async def record(
    resources: Resources,
    principal: Principal,
    action: str,
    *,
    workflow_id: str,
    run_id: str,
    reason: str | None,
    outcome: str = "ok",
    **extra: str | None,
) -> None:
    entry: dict[str, str] = {
        "at": f"{time.time():.3f}",
        "actor_user_id": principal.user_id,
        "actor_tenant_id": principal.tenant_id or "",
        "actor_session_id": principal.session_id,
        "action": action,
        "workflow_id": workflow_id,
        "run_id": run_id,
        "reason": reason or "",
        "outcome": outcome,
        **{k: v or "" for k, v in extra.items()},
    }
    _log.info("workflow_run_action", **entry)
    fields: dict[Any, Any] = dict(entry)
    await resources.redis.xadd(stream_key(resources), fields, maxlen=MAX_ENTRIES, approximate=True)


async def recent(resources: Resources, count: int) -> list[dict[str, str]]:
    """The newest ``count`` entries, newest first."""
    entries: Any = await resources.redis.xrevrange(stream_key(resources), count=count)
    return [
        {_text(k): _text(v) for k, v in (fields or {}).items()} | {"id": _text(entry_id)}
        for entry_id, fields in entries or []
    ]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
