"""Repository bases: every query on a tenant-owned model starts from one tenant-scoped statement."""

from __future__ import annotations

import uuid
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import TenantOwnedMixin

M = TypeVar("M")
T = TypeVar("T", bound=TenantOwnedMixin)


class Repository(Generic[M]):
    """Base for repositories of one model; takes the caller's session and never commits."""

    model: type[M]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def base_statement(self) -> Select[tuple[M]]:
        return select(self.model)

    async def get(self, id_: Any) -> M | None:
        return await self.session.get(self.model, id_)

    async def add(self, row: M) -> M:
        self.session.add(row)
        await self.session.flush()
        return row


class TenantScopedRepository(Repository[T]):
    """Repository of a tenant-owned model; the tenant is fixed at construction.

    Scoping here is the first line of defence; PostgreSQL row-level security on the same
    ``tenant_id`` is the second, so a forgotten filter still cannot leak another tenant's rows.
    """

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        super().__init__(session)
        self.tenant_id = tenant_id

    def base_statement(self) -> Select[tuple[T]]:
        return select(self.model).where(self.model.tenant_id == self.tenant_id)  # type: ignore[attr-defined,return-value]

    async def get(self, id_: Any) -> T | None:
        row = await self.session.get(self.model, id_)
        return row if row is not None and row.tenant_id == self.tenant_id else None

    async def list(self, limit: int = 100) -> list[T]:
        result = await self.session.scalars(self.base_statement().limit(limit))
        return list(result)  # type: ignore[arg-type]

    async def add(self, row: T) -> T:
        row.tenant_id = self.tenant_id
        return await super().add(row)
