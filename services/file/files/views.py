"""A file row as the HTTP contract shows it, and the list's cursors."""

from __future__ import annotations

import base64
import binascii
import json
import uuid

from services.file.errors import file_error
from services.file.schemas import FileOut, ProcessingOut, ThumbnailOut
from storage.db import DbSession
from storage.files.models import FileRecord, FileStatus
from storage.files.renditions import FileProcessing, FileRendition, RenditionRepository
from storage.files.repository import Cursor
from workflows.file.contracts import FileError


def processing_out(
    file_id: uuid.UUID, outcome: FileProcessing | None, renditions: list[FileRendition]
) -> ProcessingOut:
    """``GET /files/{id}/processing``'s answer, also part of every ready file's ``FileOut``."""
    if outcome is None:
        return ProcessingOut(status="pending")
    return ProcessingOut(
        status=outcome.status,
        detail=outcome.detail,
        width=outcome.width,
        height=outcome.height,
        page_count=outcome.page_count,
        thumbnails=[
            ThumbnailOut(
                size=t.size,
                width=t.width,
                height=t.height,
                url=f"/files/{file_id}/thumbnails/{t.size}",
            )
            for t in renditions
        ],
    )


async def files_out(db: DbSession, tenant_id: uuid.UUID, rows: list[FileRecord]) -> list[FileOut]:
    """The rows with their processing (ready ones), read for all of them at once."""
    ready = [r.id for r in rows if r.status == FileStatus.READY.value]
    outcomes, thumbnails = await RenditionRepository(db, tenant_id).of_files(ready)
    return [
        file_out(
            r,
            processing_out(r.id, outcomes.get(r.id), thumbnails.get(r.id, []))
            if r.status == FileStatus.READY.value
            else None,
        )
        for r in rows
    ]


async def file_view(db: DbSession, tenant_id: uuid.UUID, row: FileRecord) -> FileOut:
    return (await files_out(db, tenant_id, [row]))[0]


def file_out(row: FileRecord, processing: ProcessingOut | None = None) -> FileOut:
    return FileOut(
        id=row.id,
        name=row.name,
        folder=row.folder,
        size=row.size,
        content_type=row.content_type,
        sha256=row.sha256,
        owner_id=row.owner_id,
        status=row.status,
        scan_verdict=row.scan_verdict,
        status_detail=row.status_detail,
        version=row.version,
        workflow_id=row.workflow_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        processing=processing,
    )


def encode_cursor(row: FileRecord) -> str:
    raw = json.dumps([row.name, str(row.id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, id_ = json.loads(raw)
        if not isinstance(name, str):
            raise TypeError("name")
        return Cursor(name=name, id=uuid.UUID(id_))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, json.JSONDecodeError):
        raise file_error(FileError.INVALID_INPUT, "after: not a cursor of this list") from None
