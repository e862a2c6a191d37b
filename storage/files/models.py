"""Tables of the ``files`` schema: file metadata (``files``) and each tenant's upload policy
(``storage_policies``); both tenant-owned, guarded by row-level security."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.base import TenantOwnedMixin, TimestampMixin, new_id, schema_metadata


class FilesBase(DeclarativeBase):
    metadata = schema_metadata("files")


class FileStatus(StrEnum):
    #: Bytes received, the ``file_upload`` run is validating them.
    UPLOADING = "uploading"
    #: Valid; waiting for (or in) the virus scan. A file whose scanner is down stays here.
    SCANNING = "scanning"
    READY = "ready"
    #: The scanner found something: kept for the record, never downloadable.
    QUARANTINED = "quarantined"
    #: Refused by validation (name, size, type) or a failed run; its blob is gone.
    REJECTED = "rejected"


class ScanVerdict(StrEnum):
    PENDING = "pending"
    CLEAN = "clean"
    INFECTED = "infected"
    #: No scanner configured (``ADX_FILE_CLAMD_ADDRESS`` unset): said, never a silent pass.
    NOT_SCANNED = "not_scanned"


def _values(enum: type[StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in enum)


class FileRecord(TenantOwnedMixin, TimestampMixin, FilesBase):
    """Metadata of one stored blob (docs/files.md)."""

    __tablename__ = "files"
    __table_args__ = (
        CheckConstraint(f"status IN ({_values(FileStatus)})", name="status"),
        CheckConstraint(f"scan_verdict IN ({_values(ScanVerdict)})", name="scan_verdict"),
        Index("ix_files_files_tenant_folder_name", "tenant_id", "folder", "name", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    #: ``/`` or ``/a/b/``: slash first and last (workflows/file/rules.py).
    folder: Mapped[str] = mapped_column(String(1024), nullable=False, server_default="/")
    blob_key: Mapped[str] = mapped_column(String(512), nullable=False)
    #: The blob store holding the bytes (``local``, ``s3``: ``ADX_BLOB_BACKEND``'s names); NULL:
    #: the process's default store (rows from before files_0006). ``file_migration`` moves it.
    store: Mapped[str | None] = mapped_column(String(16), nullable=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    #: Detected from the bytes (libmagic), never the client's claim.
    content_type: Mapped[str] = mapped_column(
        String(255), nullable=False, server_default="application/octet-stream"
    )
    owner_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="ready")
    scan_verdict: Mapped[str] = mapped_column(
        String(16), nullable=False, server_default="not_scanned"
    )
    #: What the scanner found (an infected file), or why the file was rejected.
    status_detail: Mapped[str | None] = mapped_column(String(255), nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    workflow_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )
    #: Soft delete: hidden from every read at once; the blob is purged later.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class StoragePolicy(TenantOwnedMixin, FilesBase):
    """A tenant's upload policy. No row: the free plan's quota and any type."""

    __tablename__ = "storage_policies"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    quota_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    #: Detected content types (``image/png``) or families (``image/*``) allowed; NULL: any.
    allowed_types: Mapped[list[str] | None] = mapped_column(ARRAY(String(255)), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class UploadReservation(TenantOwnedMixin, FilesBase):
    """Bytes an unfinished upload holds against its tenant's quota (docs/files.md, "Quota"):
    taken before or while the bytes arrive, removed with the row's insert or the upload's end."""

    __tablename__ = "upload_reservations"
    __table_args__ = (CheckConstraint("bytes >= 0", name="bytes"),)

    upload_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class ShareKind(StrEnum):
    MEMBER = "member"
    ROLE = "role"
    TENANT = "tenant"
    LINK = "link"


class SharePermission(StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"


class ShareStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    #: Its expiry passed (the ``file_sharing`` run's timer, or a read after ``expires_at``).
    EXPIRED = "expired"


class NotifyStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    #: The mail could not be sent: the share stays active, the reason in ``notify_detail``.
    FAILED = "failed"
    #: Nobody to mail (a link shared with no addresses, a role nobody holds).
    NONE = "none"


class FileShare(TenantOwnedMixin, FilesBase):
    """One share of a file (docs/files.md, "Sharing"): with a member (``grantee`` the user id),
    a role (``grantee`` its name), the whole tenant, or by link; viewer or editor."""

    __tablename__ = "file_shares"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_values(ShareKind)})", name="kind"),
        CheckConstraint(f"permission IN ({_values(SharePermission)})", name="permission"),
        CheckConstraint(f"status IN ({_values(ShareStatus)})", name="status"),
        CheckConstraint(f"notify_status IN ({_values(NotifyStatus)})", name="notify_status"),
        Index("ix_files_file_shares_tenant_file", "tenant_id", "file_id"),
        Index("ix_files_file_shares_tenant_grantee", "tenant_id", "kind", "grantee"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    file_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("files.files.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    grantee: Mapped[str | None] = mapped_column(String(255), nullable=True)
    permission: Mapped[str] = mapped_column(String(8), nullable=False)
    #: argon2id of a link's password; never the password.
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(8), nullable=False, server_default="active")
    notify_status: Mapped[str] = mapped_column(String(8), nullable=False, server_default="pending")
    notify_detail: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    workflow_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)


class FileTransfer(TenantOwnedMixin, FilesBase):
    """A file a deactivation moved from ``from_user_id`` to ``to_user_id`` (``transfer_key``: the
    run's ``<workflow id>:<run id>``); ``restored_at`` once moved back (docs/files.md)."""

    __tablename__ = "file_transfers"

    transfer_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    file_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("files.files.id", ondelete="CASCADE"), primary_key=True
    )
    from_user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    to_user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    moved_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    restored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
