"""Preferences repository: a user's own (``tenant_id`` None) or theirs within one tenant; the
transaction's RLS settings decide which rows are reachable at all (own rows by the acting user,
tenant rows by the transaction's tenant)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import and_, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert

from storage.repository import Repository
from storage.users.models import Preferences


def _scope(user_id: uuid.UUID, tenant_id: uuid.UUID | None) -> Any:
    if tenant_id is None:
        return and_(Preferences.user_id == user_id, Preferences.tenant_id.is_(None))
    return and_(Preferences.user_id == user_id, Preferences.tenant_id == tenant_id)


class PreferencesRepository(Repository[Preferences]):
    model = Preferences

    async def of(self, user_id: uuid.UUID, tenant_id: uuid.UUID | None) -> Preferences | None:
        return await self.session.scalar(select(Preferences).where(_scope(user_id, tenant_id)))

    async def lock_user_row(self, user_id: uuid.UUID) -> None:
        """Hold this user's own row (existing or not) until the transaction ends."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"users.preferences:{user_id}"},
        )

    async def put(
        self,
        user_id: uuid.UUID,
        tenant_id: uuid.UUID | None,
        *,
        schema_version: int,
        values: dict[str, Any],
    ) -> Preferences:
        """Replace the stored values (insert or update); returns the row."""
        where = "tenant_id IS NULL" if tenant_id is None else "tenant_id IS NOT NULL"
        elements = ["user_id"] if tenant_id is None else ["tenant_id", "user_id"]
        statement = insert(Preferences).values(
            id=uuid.uuid4(),
            user_id=user_id,
            tenant_id=tenant_id,
            schema_version=schema_version,
            values=values,
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=elements,
                index_where=text(where),
                set_={
                    "schema_version": schema_version,
                    "values": statement.excluded["values"],
                    "updated_at": func.now(),
                },
            )
        )
        row = await self.session.scalar(
            select(Preferences)
            .where(_scope(user_id, tenant_id))
            .execution_options(populate_existing=True)
        )
        assert row is not None
        return row

    async def remove(self, user_id: uuid.UUID, tenant_id: uuid.UUID | None) -> bool:
        """Drop one scope's row (the values fall back to the schema's defaults)."""
        result = await self.session.execute(delete(Preferences).where(_scope(user_id, tenant_id)))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def erase_tenant(self, tenant_id: uuid.UUID) -> int:
        result = await self.session.execute(
            delete(Preferences).where(Preferences.tenant_id == tenant_id)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
