"""The auth audit trail: one row per security-relevant act."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from storage.acting import current_actor
from storage.auth.models import AuditEvent
from storage.repository import Repository


class AuditRepository(Repository[AuditEvent]):
    model = AuditEvent

    async def record(
        self,
        event: str,
        *,
        user_id: uuid.UUID | None = None,
        session_id: uuid.UUID | None = None,
        ip: str | None = None,
        **detail: Any,
    ) -> None:
        """Inside an activity (or ``acting_as``), who it acted for is recorded with the event."""
        actor = current_actor.get()
        if actor is not None:
            detail = {**actor.audit_fields(), **detail}
        self.session.add(
            AuditEvent(event=event, user_id=user_id, session_id=session_id, ip=ip, detail=detail)
        )

    async def for_user(self, user_id: uuid.UUID, limit: int = 100) -> list[AuditEvent]:
        rows = await self.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.user_id == user_id)
            .order_by(AuditEvent.at.desc())
            .limit(limit)
        )
        return list(rows)
