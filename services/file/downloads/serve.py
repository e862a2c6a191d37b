"""One file's bytes as an HTTP answer: streamed from the blob store (never read whole), with
``ETag``/``If-None-Match`` (304), a single ``Range`` (206, 416), and the headers that keep a
browser from running what it downloads: ``attachment`` for active types (HTML, SVG, XML, JS...,
and anything not known to be inert), ``nosniff``, a sandboxing CSP. Used by the authenticated
download and the signed URL alike."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from services.file.downloads.ranges import Unsatisfiable, byte_range, etag, not_modified
from services.file.downloads.read_ahead import read_ahead
from services.file.errors import file_error
from storage.blobs import BlobStore
from storage.files.models import FileRecord, FileStatus
from workflows.file.contracts import FileError
from workflows.file.rules import served_inline

SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def content_disposition(name: str, content_type: str) -> str:
    """RFC 6266: an ASCII ``filename`` fallback and the UTF-8 ``filename*``."""
    kind = "inline" if served_inline(content_type) else "attachment"
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%;' else "_" for c in name)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def require_ready(row: FileRecord) -> None:
    if row.status != FileStatus.READY.value:
        raise file_error(
            FileError.FILE_NOT_READY,
            f"the file is {row.status}: only ready files can be downloaded",
            file_status=row.status,
        )


def file_response(
    request: Request, row: FileRecord, store: BlobStore, *, cache: str = "private, no-cache"
) -> Response:
    require_ready(row)
    tag = etag(row.sha256, row.version)
    headers = {
        **SAFE_HEADERS,
        "ETag": tag,
        "Accept-Ranges": "bytes",
        "Cache-Control": cache,
        "Content-Disposition": content_disposition(row.name, row.content_type),
    }
    if not_modified(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    try:
        wanted = byte_range(request.headers.get("range"), row.size)
    except Unsatisfiable:
        return Response(
            status_code=416, headers={**headers, "Content-Range": f"bytes */{row.size}"}
        )
    if wanted is None:
        headers["Content-Length"] = str(row.size)
        return StreamingResponse(
            read_ahead(store.stream(row.blob_key)), media_type=row.content_type, headers=headers
        )
    headers["Content-Length"] = str(wanted.length)
    headers["Content-Range"] = wanted.content_range(row.size)
    return StreamingResponse(
        read_ahead(store.stream_range(row.blob_key, wanted.start, wanted.length)),
        status_code=206,
        media_type=row.content_type,
        headers=headers,
    )
