"""SQL of ``file_purge``: a tenant's files soft-deleted before a cutoff, and the removal of one
such file's rows (docs/files.md, "Purge of soft-deleted files").

Every statement is conditional on the row still being soft-deleted before the cutoff, so a
retried step removes nothing twice and never a file restored meanwhile; the caller holds the
row's lock (``lock_due``) while it deletes the blobs and the rows in the same transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select

from storage.files.models import FileRecord, FileShare, UploadReservation
from storage.files.renditions import FileProcessing, FileRendition
from storage.repository import TenantScopedRepository


@dataclass(frozen=True)
class Due:
    id: uuid.UUID
    blob_key: str
    #: The store the row names (None: the process's default store).
    store: str | None
    size: int


@dataclass(frozen=True)
class DueTotals:
    files: int
    bytes: int


class PurgeRepository(TenantScopedRepository[FileRecord]):
    model = FileRecord

    def _due(self, cutoff: datetime) -> list[ColumnElement[bool]]:
        return [
            FileRecord.tenant_id == self.tenant_id,
            FileRecord.deleted_at.is_not(None),
            FileRecord.deleted_at <= cutoff,
        ]

    async def totals(self, cutoff: datetime, after: uuid.UUID | None) -> DueTotals:
        statement = select(func.count(), func.coalesce(func.sum(FileRecord.size), 0)).where(
            *self._due(cutoff)
        )
        if after is not None:
            statement = statement.where(FileRecord.id > after)
        files, size = (await self.session.execute(statement)).one()
        return DueTotals(int(files), int(size))

    async def next_batch(self, cutoff: datetime, after: uuid.UUID | None, limit: int) -> list[Due]:
        statement = select(
            FileRecord.id, FileRecord.blob_key, FileRecord.store, FileRecord.size
        ).where(*self._due(cutoff))
        if after is not None:
            statement = statement.where(FileRecord.id > after)
        rows = await self.session.execute(statement.order_by(FileRecord.id).limit(limit))
        return [Due(*row) for row in rows]

    async def lock_due(self, file_id: uuid.UUID, cutoff: datetime) -> Due | None:
        """The file, locked, if it is still soft-deleted before ``cutoff`` (None: purged
        already, restored, or never due)."""
        row = (
            await self.session.execute(
                select(FileRecord.id, FileRecord.blob_key, FileRecord.store, FileRecord.size)
                .where(*self._due(cutoff), FileRecord.id == file_id)
                .with_for_update()
            )
        ).first()
        return Due(*row) if row is not None else None

    async def rendition_keys(self, file_id: uuid.UUID) -> list[str]:
        keys = await self.session.scalars(
            select(FileRendition.blob_key).where(
                FileRendition.tenant_id == self.tenant_id, FileRendition.file_id == file_id
            )
        )
        return list(keys)

    async def remove(self, file_id: uuid.UUID, cutoff: datetime) -> bool:
        """The file's shares, renditions, processing record, upload reservation and row;
        False if the row is no longer due (nothing is deleted then)."""
        tenant = self.tenant_id
        row = await self.session.execute(
            delete(FileRecord)
            .where(*self._due(cutoff), FileRecord.id == file_id)
            .returning(FileRecord.id)
        )
        if row.first() is None:
            return False
        for statement in (
            delete(FileShare).where(FileShare.tenant_id == tenant, FileShare.file_id == file_id),
            delete(FileRendition).where(
                FileRendition.tenant_id == tenant, FileRendition.file_id == file_id
            ),
            delete(FileProcessing).where(
                FileProcessing.tenant_id == tenant, FileProcessing.file_id == file_id
            ),
            delete(UploadReservation).where(
                UploadReservation.tenant_id == tenant, UploadReservation.upload_id == file_id
            ),
        ):
            await self.session.execute(statement)
        return True
