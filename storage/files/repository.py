"""SQL of the file rows and the tenant's storage policy (run under the tenant's RLS scope:
``TenantDb`` in routes, ``storage.db.transaction(database, tenant_id)`` in activities)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, delete, func, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert

from storage.files.models import FileRecord, FileStatus, StoragePolicy, UploadReservation
from storage.repository import TenantScopedRepository

#: Statuses whose bytes count against the quota (a rejected file's blob is gone).
_COUNTED = (FileStatus.UPLOADING, FileStatus.SCANNING, FileStatus.READY, FileStatus.QUARANTINED)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last row's name and id (keyset pagination)."""

    name: str
    id: uuid.UUID


class FileRepository(TenantScopedRepository[FileRecord]):
    model = FileRecord

    def _live(self) -> Select[tuple[FileRecord]]:
        return self.base_statement().where(FileRecord.deleted_at.is_(None))

    async def visible(self, file_id: uuid.UUID) -> FileRecord | None:
        """The file unless soft-deleted (any status)."""
        return await self.session.scalar(self._live().where(FileRecord.id == file_id))

    async def for_update(self, file_id: uuid.UUID) -> FileRecord | None:
        return await self.session.scalar(
            self.base_statement().where(FileRecord.id == file_id).with_for_update()
        )

    async def page(
        self,
        *,
        folder: str | None,
        search: str | None,
        after: Cursor | None,
        limit: int,
    ) -> list[FileRecord]:
        """Live files ordered by name then id: those directly in ``folder`` (``None``: in any
        folder), whose name contains ``search`` (case-insensitive), after ``after``."""
        statement = self._live()
        if folder is not None:
            statement = statement.where(FileRecord.folder == folder)
        if search:
            statement = statement.where(
                FileRecord.name.ilike(f"%{_like_escape(search)}%", escape="\\")
            )
        if after is not None:
            statement = statement.where(
                or_(
                    FileRecord.name > after.name,
                    (FileRecord.name == after.name) & (FileRecord.id > after.id),
                )
            )
        statement = statement.order_by(FileRecord.name, FileRecord.id).limit(limit)
        return list(await self.session.scalars(statement))

    async def subfolders(self, folder: str) -> list[str]:
        """The names of the folders directly below ``folder`` that hold live files."""
        rest = func.substr(FileRecord.folder, len(folder) + 1)
        child = func.split_part(rest, literal("/"), 1)
        statement = (
            select(child)
            .where(FileRecord.tenant_id == self.tenant_id, FileRecord.deleted_at.is_(None))
            .where(FileRecord.folder.startswith(folder, autoescape=True))
            .where(FileRecord.folder != folder)
            .distinct()
            .order_by(child)
        )
        return [name for name in await self.session.scalars(statement) if name]

    async def used_bytes(self) -> int:
        """Bytes of the tenant's files that count against its quota (soft-deleted ones too,
        until purged)."""
        total = await self.session.scalar(
            select(func.coalesce(func.sum(FileRecord.size), 0)).where(
                FileRecord.tenant_id == self.tenant_id,
                FileRecord.status.in_([s.value for s in _COUNTED]),
            )
        )
        return int(total or 0)

    async def soft_delete(self, row: FileRecord) -> None:
        row.deleted_at = datetime.now(UTC)
        await self.session.flush()

    async def set_status(
        self,
        file_id: uuid.UUID,
        status: FileStatus,
        *,
        only_from: Sequence[FileStatus],
        **values: object,
    ) -> bool:
        """Move the file to ``status`` if it is in one of ``only_from``; False otherwise (a
        retried step finds it moved already)."""
        result = await self.session.execute(
            update(FileRecord)
            .where(
                FileRecord.tenant_id == self.tenant_id,
                FileRecord.id == file_id,
                FileRecord.status.in_([s.value for s in only_from]),
            )
            .values(status=status.value, **values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


class StoragePolicyRepository(TenantScopedRepository[StoragePolicy]):
    model = StoragePolicy

    async def current(self) -> StoragePolicy | None:
        return await self.session.scalar(self.base_statement())

    async def put(self, quota_bytes: int, allowed_types: Sequence[str] | None) -> None:
        values = {
            "tenant_id": self.tenant_id,
            "quota_bytes": quota_bytes,
            "allowed_types": list(allowed_types) if allowed_types is not None else None,
        }
        statement = insert(StoragePolicy).values(**values)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[StoragePolicy.tenant_id],
                set_={
                    "quota_bytes": statement.excluded.quota_bytes,
                    "allowed_types": statement.excluded.allowed_types,
                    "updated_at": func.now(),
                },
            )
        )

    async def put_versioned(
        self, quota_bytes: int, allowed_types: Sequence[str] | None, version: datetime
    ) -> bool:
        """Write the policy as of ``version`` (kept in ``updated_at``) unless the row already
        holds this or a later one, in one statement; True when it wrote. A retried write, or a
        late one of an older plan change, changes nothing."""
        statement = insert(StoragePolicy).values(
            tenant_id=self.tenant_id,
            quota_bytes=quota_bytes,
            allowed_types=list(allowed_types) if allowed_types is not None else None,
            updated_at=version,
        )
        result = await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[StoragePolicy.tenant_id],
                set_={
                    "quota_bytes": statement.excluded.quota_bytes,
                    "allowed_types": statement.excluded.allowed_types,
                    "updated_at": statement.excluded.updated_at,
                },
                where=StoragePolicy.updated_at < statement.excluded.updated_at,
            ).returning(StoragePolicy.tenant_id)
        )
        return result.first() is not None

    async def remove(self) -> bool:
        result = await self.session.execute(
            delete(StoragePolicy).where(StoragePolicy.tenant_id == self.tenant_id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


#: A reservation older than this is a crashed upload's: no longer counted (direct uploads take
#: minutes; a tus upload reserves again at its last PATCH).
RESERVATION_LIFETIME = timedelta(days=1)
#: The version a policy row made only to be locked carries: any plan's write is newer.
_NO_VERSION = datetime(1970, 1, 1, tzinfo=UTC)


class UploadReservationRepository(TenantScopedRepository[UploadReservation]):
    model = UploadReservation

    async def reserve(self, upload_id: uuid.UUID, total: int, *, default_quota: int) -> bool:
        """Hold ``total`` bytes for ``upload_id`` (its earlier hold replaced) if the quota's
        room, ``quota - used - reserved by other uploads``, allows it; False otherwise.

        Concurrent reservers of one tenant queue on its policy row's lock (made first, at the
        free quota and no version, for a tenant without one); the check runs in a statement
        after the lock, so under READ COMMITTED it sees every hold and file committed before
        (one statement that both locked and summed would sum from its own, older snapshot)."""
        await self.session.execute(
            insert(StoragePolicy)
            .values(tenant_id=self.tenant_id, quota_bytes=default_quota, updated_at=_NO_VERSION)
            .on_conflict_do_nothing(index_elements=[StoragePolicy.tenant_id])
        )
        await self.session.execute(
            select(StoragePolicy.tenant_id)
            .where(StoragePolicy.tenant_id == self.tenant_id)
            .with_for_update()
        )
        result = await self.session.execute(
            text(
                """
                INSERT INTO files.upload_reservations (upload_id, tenant_id, bytes)
                SELECT CAST(:upload_id AS uuid), CAST(:tenant_id AS uuid), CAST(:total AS bigint)
                WHERE (
                    SELECT quota_bytes FROM files.storage_policies WHERE tenant_id = :tenant_id
                ) - (
                    SELECT coalesce(sum(size), 0) FROM files.files
                    WHERE tenant_id = :tenant_id AND status = ANY(CAST(:counted AS text[]))
                ) - (
                    SELECT coalesce(sum(bytes), 0) FROM files.upload_reservations
                    WHERE tenant_id = :tenant_id AND upload_id <> :upload_id
                      AND created_at > now() - CAST(:lifetime AS interval)
                ) >= CAST(:total AS bigint)
                ON CONFLICT (upload_id) DO UPDATE SET bytes = excluded.bytes
                RETURNING upload_id
                """
            ),
            {
                "upload_id": upload_id,
                "tenant_id": self.tenant_id,
                "total": total,
                "counted": [s.value for s in _COUNTED],
                "lifetime": RESERVATION_LIFETIME,
            },
        )
        return result.first() is not None

    async def release(self, upload_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(UploadReservation).where(
                UploadReservation.tenant_id == self.tenant_id,
                UploadReservation.upload_id == upload_id,
            )
        )

    async def reserved_bytes(self) -> int:
        total = await self.session.scalar(
            select(func.coalesce(func.sum(UploadReservation.bytes), 0)).where(
                UploadReservation.tenant_id == self.tenant_id
            )
        )
        return int(total or 0)
