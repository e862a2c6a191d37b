"""The file service's HTTP contract (pydantic only; the gateway builds its types from these)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: A role's name as the tenant service spells them (built-in or custom).
ROLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,49}")


class FileOut(BaseModel):
    id: uuid.UUID
    name: str
    folder: str
    size: int
    #: Detected from the bytes, not the client's claim.
    content_type: str
    sha256: str
    owner_id: uuid.UUID | None
    #: ``uploading``, ``scanning``, ``ready``, ``quarantined``, ``rejected``.
    status: str
    #: ``pending``, ``clean``, ``infected``, ``not_scanned``.
    scan_verdict: str
    #: What the scanner found, or why the file was rejected.
    status_detail: str | None
    version: int
    #: The ``file_upload`` run (``workflowProgress``).
    workflow_id: str | None
    created_at: datetime
    updated_at: datetime
    #: What ``file_processing`` found (thumbnails with their URLs); None until the file is ready.
    processing: ProcessingOut | None = None


class FilePage(BaseModel):
    files: list[FileOut]
    #: Folders directly below the listed one (first page only, no search).
    folders: list[str]
    #: Pass as ``after`` for the next page; None on the last one.
    next_cursor: str | None


class RenameRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)


class MoveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    folder: str = Field(min_length=1, max_length=1024)


class UploadAccepted(BaseModel):
    file: FileOut
    #: Follow it (``workflowProgress``) until the file is ready, quarantined or rejected.
    workflow_id: str


class SignedUrl(BaseModel):
    #: Path and query on the file service: usable without a bearer token until ``expires_at``.
    url: str
    expires_at: datetime


class UploadPlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=1024)
    folder: str = Field("/", min_length=1, max_length=1024)
    #: The file's length in bytes, checked against the size limits and the quota left (at
    #: most 2^53, exact as a JSON number anywhere).
    size: int = Field(ge=1, le=2**53)


class UploadPlan(BaseModel):
    """Where and how to send a file's bytes (``POST /uploads``): no row is written yet; the
    size is held against the quota and the file's run waits for the bytes."""

    #: ``direct`` (one ``POST`` of the body) or ``tus`` (tus 1.0, resumable).
    protocol: str
    #: ``POST`` for both: the body itself, or the tus creation request.
    method: str
    #: Path and query on the file service (``/files?name=...`` or ``/uploads/tus``).
    url: str
    #: Headers to send besides ``Authorization`` (tus: ``Tus-Resumable``, ``Upload-Length``,
    #: ``Upload-Metadata``).
    headers: dict[str, str]
    #: The largest body the direct upload takes; larger files go through tus.
    max_direct_bytes: int
    #: Bytes left under the tenant's storage quota.
    room_bytes: int
    #: The file's id, fixed by the plan (the ``upload_id`` in ``url`` or in the tus metadata).
    file_id: uuid.UUID
    #: Its ``file_upload`` run, started now and waiting for the bytes: follow it from here.
    workflow_id: str


class ThumbnailOut(BaseModel):
    #: The box (longest side, px) it fits in: ``GET /files/{id}/thumbnails/{size}``.
    size: int
    width: int
    height: int
    url: str


class ProcessingOut(BaseModel):
    """What ``file_processing`` found in a file (``GET /files/{id}/processing``)."""

    #: ``pending`` (not processed yet), ``done``, ``skipped`` (not an image or PDF),
    #: ``rejected`` (decompression bomb, over the size cap), ``failed`` (undecodable).
    status: str
    detail: str | None = None
    width: int | None = None
    height: int | None = None
    page_count: int | None = None
    thumbnails: list[ThumbnailOut] = Field(default_factory=list)


#: A mailed address for a link share (the syntax the tenant service takes for invitations).
ShareEmail = Annotated[
    str,
    Field(
        min_length=3,
        max_length=254,
        pattern=r"^[^\s@\x00-\x1f\x7f]+@[^\s@\x00-\x1f\x7f]+$",
        json_schema_extra={"format": "email"},
    ),
]


class ShareRequest(BaseModel):
    """``POST /files/{id}/shares``: with a member (``grantee`` their user id), a role
    (``grantee`` its name), the whole tenant, or by link (docs/files.md, "Sharing")."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["member", "role", "tenant", "link"]
    grantee: str | None = Field(None, min_length=1, max_length=50)
    permission: Literal["viewer", "editor"] = "viewer"
    #: The share ends (``expired``) this many seconds after it is made; None: until revoked.
    expires_in_seconds: int | None = Field(None, ge=1, le=366 * 24 * 3600)
    #: A link only: asked for before the file is served (stored as an argon2id hash).
    password: str | None = Field(None, min_length=4, max_length=128)
    #: A link only: addresses mailed the link.
    recipients: list[ShareEmail] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _fits_kind(self) -> ShareRequest:
        if self.kind == "member":
            try:
                uuid.UUID(self.grantee or "")
            except ValueError:
                raise ValueError("a member share names the member's user id") from None
        elif self.kind == "role":
            if not self.grantee or not ROLE_NAME.fullmatch(self.grantee):
                raise ValueError("a role share names the role (letters, digits, - and _)")
        elif self.grantee is not None:
            raise ValueError(f"a {self.kind} share names no grantee")
        if self.kind != "link" and (self.password is not None or self.recipients):
            raise ValueError("only a link share has a password or recipients")
        return self


class ShareStarted(BaseModel):
    share_id: uuid.UUID
    #: The ``file_sharing`` run (``workflowProgress``): creates the share, mails, expires it.
    workflow_id: str


class ShareOut(BaseModel):
    id: uuid.UUID
    file_id: uuid.UUID
    #: ``member``, ``role``, ``tenant``, ``link``.
    kind: str
    grantee: str | None
    #: ``viewer`` or ``editor``.
    permission: str
    #: ``active``, ``revoked``, ``expired`` (an expiry passed counts even before the run ends it).
    status: str
    #: ``pending``, ``sent``, ``failed`` (the share still works; ``notify_detail`` says why),
    #: ``none`` (nobody to mail).
    notify_status: str
    notify_detail: str | None
    password_protected: bool
    expires_at: datetime | None
    created_by: uuid.UUID | None
    created_at: datetime
    revoked_at: datetime | None
    workflow_id: str | None
    #: A live link share's path on the file service (``/shares/links/<token>``), else None.
    url: str | None = None


class ShareList(BaseModel):
    shares: list[ShareOut]


class SharedFileOut(BaseModel):
    """What a share link opens (``GET /shares/links/{token}``): the file, never its owner."""

    share_id: uuid.UUID
    permission: str
    password_required: bool
    expires_at: datetime | None
    name: str
    size: int
    content_type: str
    status: str
    #: ``GET`` (no password) or ``POST`` with ``{"password"}``: the bytes.
    content_url: str


class LinkPassword(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=1, max_length=128)


class LinkRename(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)
    password: str | None = Field(None, min_length=1, max_length=128)


class StorageMigrationRequest(BaseModel):
    """A tenant's files moved to another blob store (``file_migration``; docs/files.md)."""

    model_config = ConfigDict(extra="forbid")
    #: ``local`` or ``s3``; the file service must have that store (``ADX_BLOB_S3_BUCKET``).
    target: str = Field(pattern="^(local|s3)$")
    #: The store the files leave; None: the file service's default store (``ADX_BLOB_BACKEND``).
    source: str | None = Field(None, pattern="^(local|s3)$")
    #: Files per batch (one heartbeated activity each).
    batch_size: int = Field(20, ge=1, le=500)


class StorageMigrationStarted(BaseModel):
    #: ``file-migration-<tenant id>``: follow it with ``workflowProgress``.
    workflow_id: str
