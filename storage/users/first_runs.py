"""The first-run set-ups of members (``users.first_runs``, tenant-owned): one row per member and
tenant, written by ``user.prepare_first_run`` and removed by its compensation."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert

from storage.repository import TenantScopedRepository
from storage.users.models import FirstRun


class FirstRunRepository(TenantScopedRepository[FirstRun]):
    model = FirstRun

    async def of(self, user_id: uuid.UUID) -> FirstRun | None:
        return await self.session.scalar(self.base_statement().where(FirstRun.user_id == user_id))

    async def create(
        self,
        user_id: uuid.UUID,
        *,
        checklist: list[dict[str, Any]],
        created: dict[str, Any],
        idempotency_key: str,
    ) -> bool:
        """Insert once; False when the member's row exists already (an earlier set-up)."""
        inserted = await self.session.scalar(
            insert(FirstRun)
            .values(
                tenant_id=self.tenant_id,
                user_id=user_id,
                checklist=checklist,
                created=created,
                idempotency_key=idempotency_key,
            )
            .on_conflict_do_nothing()
            .returning(FirstRun.user_id)
        )
        return inserted is not None

    async def set_checklist(self, user_id: uuid.UUID, checklist: list[dict[str, Any]]) -> None:
        await self.session.execute(
            update(FirstRun)
            .where(FirstRun.tenant_id == self.tenant_id, FirstRun.user_id == user_id)
            .values(checklist=checklist)
        )

    async def mark_welcomed(self, user_id: uuid.UUID, at: datetime) -> None:
        await self.session.execute(
            update(FirstRun)
            .where(FirstRun.tenant_id == self.tenant_id, FirstRun.user_id == user_id)
            .values(welcome_sent_at=at)
        )

    async def remove(self, user_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            delete(FirstRun).where(
                FirstRun.tenant_id == self.tenant_id, FirstRun.user_id == user_id
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def count(self) -> int:
        rows = await self.session.scalars(
            select(FirstRun.user_id).where(FirstRun.tenant_id == self.tenant_id)
        )
        return len(list(rows))
