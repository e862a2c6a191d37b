"""A file row as the HTTP contract shows it, and the list's cursors."""

from __future__ import annotations

import base64
import binascii
import json
import uuid

from services.file.errors import file_error
from services.file.schemas import FileOut
from storage.files.models import FileRecord
from storage.files.repository import Cursor
from workflows.file.contracts import FileError


def file_out(row: FileRecord) -> FileOut:
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
