"""Tables of the ``files`` schema."""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, String
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.base import TenantOwnedMixin, TimestampMixin, new_id, schema_metadata


class FilesBase(DeclarativeBase):
    metadata = schema_metadata("files")


class FileRecord(TenantOwnedMixin, TimestampMixin, FilesBase):
    """Metadata of one stored blob; tenant-owned, guarded by row-level security."""

    __tablename__ = "files"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    blob_key: Mapped[str] = mapped_column(String(512), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
