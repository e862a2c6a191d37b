"""SQL of ``file_migration``: which of a tenant's files a store holds, and the switch of one
file's row to the store now holding a verified copy (docs/files.md, "Moving a tenant's blobs").

A row's ``store`` NULL means the process's default store; callers say whether the store they
name is that default (``source_is_default``), so NULL rows count as held by it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select, update

from storage.files.models import FileRecord, FileStatus, UploadReservation
from storage.files.repository import RESERVATION_LIFETIME
from storage.repository import TenantScopedRepository

#: Files whose bytes stay put: a ready or quarantined file's blob is final. An upload still
#: validating or scanning is left where it landed (its run reads the default store); a
#: rejected file has no blob.
MOVABLE = (FileStatus.READY, FileStatus.QUARANTINED)


@dataclass(frozen=True)
class Holding:
    files: int
    bytes: int


@dataclass(frozen=True)
class Movable:
    id: uuid.UUID
    blob_key: str
    size: int
    sha256: str


class StoreMoveRepository(TenantScopedRepository[FileRecord]):
    model = FileRecord

    def _held_by(self, store: str, *, is_default: bool) -> ColumnElement[bool]:
        if is_default:
            return or_(FileRecord.store == store, FileRecord.store.is_(None))
        return FileRecord.store == store

    def _movable(self, store: str, is_default: bool) -> list[ColumnElement[bool]]:
        return [
            FileRecord.tenant_id == self.tenant_id,
            self._held_by(store, is_default=is_default),
            FileRecord.status.in_([s.value for s in MOVABLE]),
        ]

    async def holding(self, store: str, *, is_default: bool, after: uuid.UUID | None) -> Holding:
        """The movable files (soft-deleted ones too: their blobs stay) ``store`` holds, after
        ``after`` in id order."""
        statement = select(func.count(), func.coalesce(func.sum(FileRecord.size), 0)).where(
            *self._movable(store, is_default)
        )
        if after is not None:
            statement = statement.where(FileRecord.id > after)
        files, size = (await self.session.execute(statement)).one()
        return Holding(int(files), int(size))

    async def uploads_in_progress(self) -> int:
        """Uploads a migration leaves where they land (the default store): files still
        validating or scanning, and bytes still arriving (a live hold without a row yet: a
        direct upload streaming, an unfinished tus upload)."""
        unsettled = await self.session.scalar(
            select(func.count()).where(
                FileRecord.tenant_id == self.tenant_id,
                FileRecord.deleted_at.is_(None),
                FileRecord.status.in_([FileStatus.UPLOADING.value, FileStatus.SCANNING.value]),
            )
        )
        arriving = await self.session.scalar(
            select(func.count()).where(
                UploadReservation.tenant_id == self.tenant_id,
                UploadReservation.created_at > func.now() - RESERVATION_LIFETIME,
                ~select(FileRecord.id).where(FileRecord.id == UploadReservation.upload_id).exists(),
            )
        )
        return int(unsettled or 0) + int(arriving or 0)

    async def next_batch(
        self, store: str, *, is_default: bool, after: uuid.UUID | None, limit: int
    ) -> list[Movable]:
        statement = select(
            FileRecord.id, FileRecord.blob_key, FileRecord.size, FileRecord.sha256
        ).where(*self._movable(store, is_default))
        if after is not None:
            statement = statement.where(FileRecord.id > after)
        rows = await self.session.execute(statement.order_by(FileRecord.id).limit(limit))
        return [Movable(*row) for row in rows]

    async def movable(self, file_id: uuid.UUID, store: str, *, is_default: bool) -> Movable | None:
        """The file if it is movable and ``store`` holds it."""
        row = (
            await self.session.execute(
                select(FileRecord.id, FileRecord.blob_key, FileRecord.size, FileRecord.sha256)
                .where(*self._movable(store, is_default))
                .where(FileRecord.id == file_id)
            )
        ).first()
        return Movable(*row) if row is not None else None

    async def keys_in(
        self, file_ids: Sequence[uuid.UUID], store: str, *, is_default: bool
    ) -> list[str]:
        """The blob keys of those of ``file_ids`` whose rows name ``store``."""
        return [key for _, key in await self.held_in(file_ids, store, is_default=is_default)]

    async def held_in(
        self, file_ids: Sequence[uuid.UUID], store: str, *, is_default: bool
    ) -> list[tuple[uuid.UUID, str]]:
        """(id, blob key) of those of ``file_ids`` whose rows name ``store``."""
        if not file_ids:
            return []
        rows = await self.session.execute(
            select(FileRecord.id, FileRecord.blob_key).where(
                FileRecord.tenant_id == self.tenant_id,
                FileRecord.id.in_(list(file_ids)),
                self._held_by(store, is_default=is_default),
            )
        )
        return [(row.id, row.blob_key) for row in rows]

    async def switch(
        self, row: Movable, source: str, target: str, *, source_is_default: bool
    ) -> bool:
        """Point the file at ``target`` if it still points at ``source`` with the same blob
        and checksum (one statement: a concurrent change wins, and the copy is dropped)."""
        result = await self.session.execute(
            update(FileRecord)
            .where(
                FileRecord.tenant_id == self.tenant_id,
                FileRecord.id == row.id,
                FileRecord.blob_key == row.blob_key,
                FileRecord.sha256 == row.sha256,
                self._held_by(source, is_default=source_is_default),
            )
            .values(store=target)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
