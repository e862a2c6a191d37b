"""The file service's HTTP contract (pydantic only; the gateway builds its types from these)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


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
    """Where and how to send a file's bytes (``POST /uploads``): no row is written yet."""

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
