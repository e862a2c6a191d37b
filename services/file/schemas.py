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
