"""SQL of a tenant's file rows as a whole (the file service's tenant storage activities): listing
them for an export and deleting them all when the tenant is erased. Run in a transaction opened
under the tenant (``storage.db.transaction(database, tenant_id)``: RLS on that tenant)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select

from storage.db import DbSession
from storage.files.models import FileRecord


async def tenant_files(db: DbSession, tenant_id: uuid.UUID) -> list[FileRecord]:
    return list(
        await db.scalars(
            select(FileRecord)
            .where(FileRecord.tenant_id == tenant_id)
            .order_by(FileRecord.created_at, FileRecord.id)
        )
    )


async def delete_tenant_files(db: DbSession, tenant_id: uuid.UUID) -> int:
    result = await db.execute(delete(FileRecord).where(FileRecord.tenant_id == tenant_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
