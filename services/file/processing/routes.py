"""Thumbnails and metadata of a file (direct, no workflow: reads of the file's own rows).

``GET /files/{id}/processing``: what ``file_processing`` found, with the thumbnails' URLs;
``GET /files/{id}/thumbnails/{size}``: one thumbnail (WebP), under the same rules as a download
(``files.read``, only a ready file, another tenant's file a 404 as an unknown one)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from services.common.app import ResourcesDep
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.tenant_db import TenantDb
from services.common.tokens import Principal
from services.file.access import Access, file_for
from services.file.downloads.ranges import etag, not_modified
from services.file.downloads.serve import SAFE_HEADERS, require_ready
from services.file.errors import FileProblem
from services.file.files.views import processing_out
from services.file.processing.placement import read_rendition
from services.file.schemas import ProcessingOut
from storage.files.models import FileRecord
from storage.files.renditions import RenditionRepository
from workflows.file.contracts import FileError
from workflows.file.processing_contracts import THUMBNAIL_SIZES

router = APIRouter(prefix="/files", tags=["processing"])
REFUSED: dict[int | str, dict[str, Any]] = {
    403: problem_response(403, "No active tenant, or no files.read permission"),
    404: problem_response(404, "No such file (or another tenant's, or deleted), or thumbnail"),
    409: problem_response(409, "The file is not ready"),
}
THUMBNAIL: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The thumbnail",
        "content": {"image/webp": {"schema": {"type": "string", "format": "binary"}}},
    },
    304: {"description": "Not modified (If-None-Match matched the ETag)"},
}


async def _ready_file(db: TenantDb, principal: Principal, file_id: uuid.UUID) -> FileRecord:
    """A viewer's (``files.read``, or a share) ready file."""
    row = await file_for(db, principal, file_id, Access.VIEWER)
    require_ready(row)
    return row


@router.get("/{file_id}/processing", responses=REFUSED)
async def file_processing(
    file_id: uuid.UUID, principal: PrincipalDep, db: TenantDb
) -> ProcessingOut:
    tenant_id = (await _ready_file(db, principal, file_id)).tenant_id
    repository = RenditionRepository(db, tenant_id)
    return processing_out(
        file_id, await repository.outcome(file_id), await repository.of_file(file_id)
    )


@router.get(
    "/{file_id}/thumbnails/{size}",
    response_class=Response,
    responses={**THUMBNAIL, **REFUSED},
)
async def thumbnail(
    file_id: uuid.UUID,
    size: Annotated[int, Path(ge=1, le=4096)],
    request: Request,
    principal: PrincipalDep,
    db: TenantDb,
    resources: ResourcesDep,
) -> Response:
    row = await _ready_file(db, principal, file_id)
    tenant_id = row.tenant_id
    if size not in THUMBNAIL_SIZES:
        raise FileProblem(FileError.FILE_NOT_FOUND, f"thumbnails come in sizes {THUMBNAIL_SIZES}")
    rendition = await RenditionRepository(db, tenant_id).one(file_id, size)
    if rendition is None:
        raise FileProblem(FileError.FILE_NOT_FOUND, "the file has no thumbnail of that size")
    tag = etag(rendition.sha256, size)
    headers = {**SAFE_HEADERS, "ETag": tag, "Cache-Control": "private, no-cache"}
    if not_modified(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    data = await read_rendition(resources, row.store, rendition.blob_key)
    if data is None:
        raise FileProblem(FileError.FILE_NOT_FOUND, "the thumbnail's bytes are gone")
    return Response(data, media_type=rendition.content_type, headers=headers)
