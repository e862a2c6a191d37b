"""What ``file_processing`` records of a ready file: one ``file_processing`` row (outcome,
reason, width, height, page count) and a ``file_renditions`` row per thumbnail (its blob under
the tenant's prefix). Both tenant-owned, under row-level security (migration ``files_0003``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, Integer, String, delete, func, select
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import TenantOwnedMixin
from storage.db import DbSession
from storage.files.models import FilesBase


class ProcessingStatus(StrEnum):
    DONE = "done"
    #: Not a kind the service renders (text, archives, a claimed image that is not one).
    SKIPPED = "skipped"
    #: Refused on purpose: a decompression bomb, over the size cap. The file stays ready.
    REJECTED = "rejected"
    #: The bytes could not be decoded (corrupt image, encrypted or broken PDF).
    FAILED = "failed"


class FileProcessing(TenantOwnedMixin, FilesBase):
    __tablename__ = "file_processing"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    file_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    detail: Mapped[str | None] = mapped_column(String(255), nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    page_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class FileRendition(TenantOwnedMixin, FilesBase):
    __tablename__ = "file_renditions"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    file_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    #: The box the thumbnail fits in (px, longest side).
    size: Mapped[int] = mapped_column(Integer, primary_key=True)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    content_type: Mapped[str] = mapped_column(String(64), nullable=False)
    blob_key: Mapped[str] = mapped_column(String(512), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


def rendition_key(tenant_id: uuid.UUID, file_id: uuid.UUID, size: int) -> str:
    return f"tenants/{tenant_id}/thumbnails/{file_id}/{size}"


class RenditionRepository:
    """The processing record and thumbnails of the tenant's files (run under its RLS scope)."""

    def __init__(self, session: DbSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def outcome(self, file_id: uuid.UUID) -> FileProcessing | None:
        return await self.session.get(FileProcessing, (self.tenant_id, file_id))

    async def record(self, file_id: uuid.UUID, status: ProcessingStatus, **values: object) -> None:
        row = {"tenant_id": self.tenant_id, "file_id": file_id, "status": status.value, **values}
        statement = insert(FileProcessing).values(**row)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[FileProcessing.tenant_id, FileProcessing.file_id],
                set_={**{k: v for k, v in row.items() if k != "file_id"}, "updated_at": func.now()},
            )
        )

    async def add(self, rendition: FileRendition) -> None:
        statement = insert(FileRendition).values(
            tenant_id=self.tenant_id,
            file_id=rendition.file_id,
            size=rendition.size,
            width=rendition.width,
            height=rendition.height,
            content_type=rendition.content_type,
            blob_key=rendition.blob_key,
            sha256=rendition.sha256,
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[FileRendition.tenant_id, FileRendition.file_id, FileRendition.size],
                set_={
                    "width": statement.excluded.width,
                    "height": statement.excluded.height,
                    "content_type": statement.excluded.content_type,
                    "blob_key": statement.excluded.blob_key,
                    "sha256": statement.excluded.sha256,
                },
            )
        )

    async def of_file(self, file_id: uuid.UUID) -> list[FileRendition]:
        statement = (
            select(FileRendition)
            .where(FileRendition.tenant_id == self.tenant_id, FileRendition.file_id == file_id)
            .order_by(FileRendition.size)
        )
        return list(await self.session.scalars(statement))

    async def of_files(
        self, file_ids: list[uuid.UUID]
    ) -> tuple[dict[uuid.UUID, FileProcessing], dict[uuid.UUID, list[FileRendition]]]:
        """The outcomes and thumbnails (by size) of many files at once: two reads for a page."""
        if not file_ids:
            return {}, {}
        outcomes = await self.session.scalars(
            select(FileProcessing).where(
                FileProcessing.tenant_id == self.tenant_id, FileProcessing.file_id.in_(file_ids)
            )
        )
        renditions = await self.session.scalars(
            select(FileRendition)
            .where(FileRendition.tenant_id == self.tenant_id, FileRendition.file_id.in_(file_ids))
            .order_by(FileRendition.file_id, FileRendition.size)
        )
        thumbnails: dict[uuid.UUID, list[FileRendition]] = {}
        for rendition in renditions:
            thumbnails.setdefault(rendition.file_id, []).append(rendition)
        return {o.file_id: o for o in outcomes}, thumbnails

    async def one(self, file_id: uuid.UUID, size: int) -> FileRendition | None:
        return await self.session.get(FileRendition, (self.tenant_id, file_id, size))

    async def remove(self, file_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(FileRendition).where(
                FileRendition.tenant_id == self.tenant_id, FileRendition.file_id == file_id
            )
        )


async def tenant_rendition_keys(db: DbSession, tenant_id: uuid.UUID) -> list[str]:
    """Every thumbnail blob of the tenant (its erasure deletes them with its files)."""
    statement = select(FileRendition.blob_key).where(FileRendition.tenant_id == tenant_id)
    return list(await db.scalars(statement))


async def delete_tenant_renditions(db: DbSession, tenant_id: uuid.UUID) -> None:
    await db.execute(delete(FileRendition).where(FileRendition.tenant_id == tenant_id))
    await db.execute(delete(FileProcessing).where(FileProcessing.tenant_id == tenant_id))
