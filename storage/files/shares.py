"""SQL of a file's shares (``files.file_shares``, under the tenant's RLS scope): create once
per id, list a file's, the grants that apply to a caller, revoke, expire, the mail's outcome."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert

from storage.files.models import FileShare, ShareKind, ShareStatus
from storage.repository import TenantScopedRepository

#: A file's shares listed at most (oldest first); a file shared more often is unusual.
MAX_LISTED = 500


class ShareRepository(TenantScopedRepository[FileShare]):
    model = FileShare

    async def create(self, values: dict[str, object]) -> FileShare:
        """Insert the share unless a row with its id exists (a retried step); the row either way."""
        statement = (
            insert(FileShare)
            .values(tenant_id=self.tenant_id, **values)
            .on_conflict_do_nothing(index_elements=[FileShare.id])
        )
        await self.session.execute(statement)
        share_id = values["id"]
        row = await self.one(share_id) if isinstance(share_id, uuid.UUID) else None
        if row is None:  # the id is another tenant's: RLS hides it, the insert did nothing
            raise LookupError("share id taken")
        return row

    async def of_file(self, file_id: uuid.UUID) -> list[FileShare]:
        statement = (
            self.base_statement()
            .where(FileShare.file_id == file_id)
            .order_by(FileShare.created_at, FileShare.id)
            .limit(MAX_LISTED)
        )
        return list(await self.session.scalars(statement))

    async def of_file_by_id(self, file_id: uuid.UUID, share_id: uuid.UUID) -> FileShare | None:
        return await self.session.scalar(
            self.base_statement().where(FileShare.id == share_id, FileShare.file_id == file_id)
        )

    async def one(self, share_id: uuid.UUID, *, lock: bool = False) -> FileShare | None:
        statement = self.base_statement().where(FileShare.id == share_id)
        if lock:
            statement = statement.with_for_update()
        return await self.session.scalar(statement)

    async def grants(
        self, file_id: uuid.UUID, user_id: str, roles: Collection[str], now: datetime
    ) -> list[str]:
        """The permissions the file's live member, role and tenant shares give this caller."""
        statement = (
            self.base_statement()
            .with_only_columns(FileShare.permission)
            .where(
                FileShare.file_id == file_id,
                FileShare.status == ShareStatus.ACTIVE.value,
                or_(FileShare.expires_at.is_(None), FileShare.expires_at > now),
                or_(
                    (FileShare.kind == ShareKind.MEMBER.value) & (FileShare.grantee == user_id),
                    (FileShare.kind == ShareKind.ROLE.value) & FileShare.grantee.in_(list(roles)),
                    FileShare.kind == ShareKind.TENANT.value,
                ),
            )
        )
        return list(await self.session.scalars(statement))

    async def end(
        self, share_id: uuid.UUID, status: ShareStatus, now: datetime, by: uuid.UUID | None
    ) -> bool:
        """An active share revoked or expired; False when it was not active any more."""
        values: dict[str, object] = {"status": status.value}
        if status == ShareStatus.REVOKED:
            values.update(revoked_at=now, revoked_by=by)
        result = await self.session.execute(
            update(FileShare)
            .where(
                FileShare.tenant_id == self.tenant_id,
                FileShare.id == share_id,
                FileShare.status == ShareStatus.ACTIVE.value,
            )
            .values(**values)
        )
        return bool(getattr(result, "rowcount", 0))

    async def set_notified(self, share_id: uuid.UUID, status: str, detail: str | None) -> None:
        await self.session.execute(
            update(FileShare)
            .where(FileShare.tenant_id == self.tenant_id, FileShare.id == share_id)
            .values(notify_status=status, notify_detail=detail)
        )
