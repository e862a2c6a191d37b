"""File metadata over HTTP: list (folders, search, cursor pages), get, rename, move, soft delete.
Direct reads and writes of one service (no workflow): the caller's permission from the token,
the rows under its tenant's RLS scope (``TenantDb``), so another tenant's file is a 404."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.tenant_db import TenantDb
from services.file.access import Access, file_for, require
from services.file.errors import from_rule
from services.file.files.views import decode_cursor, encode_cursor, file_view, files_out
from services.file.schemas import FileOut, FilePage, MoveRequest, RenameRequest
from storage.files.repository import FileRepository
from workflows.file.rules import FileRuleViolation, check_folder, check_name
from workflows.tenant.permissions import Permission

router = APIRouter(prefix="/files", tags=["files"])
REFUSED: dict[int | str, dict[str, Any]] = {
    403: problem_response(403, "No active tenant, or a missing files permission"),
    404: problem_response(404, "No such file (or another tenant's, or deleted)"),
    422: problem_response(422, "An invalid name, folder, search or cursor"),
}


@router.get("", responses=REFUSED)
async def list_files(
    principal: PrincipalDep,
    db: TenantDb,
    folder: Annotated[str | None, Query(max_length=1024)] = "/",
    search: Annotated[str | None, Query(max_length=255)] = None,
    first: Annotated[int, Query(ge=1, le=200)] = 50,
    after: Annotated[str | None, Query(max_length=2048)] = None,
) -> FilePage:
    """``files.read``: the files directly in ``folder`` (``/`` by default; empty with a search:
    every folder) whose name contains ``search``, by name, ``first`` per page."""
    tenant_id = require(principal, Permission.FILES_READ)
    try:
        where = check_folder(folder) if folder else None
        text = search.replace("\x00", "") if search else None
    except FileRuleViolation as violation:
        raise from_rule(violation) from None
    cursor = decode_cursor(after) if after else None
    repository = FileRepository(db, tenant_id)
    rows = await repository.page(folder=where, search=text, after=cursor, limit=first + 1)
    folders = await repository.subfolders(where) if where and not text and not cursor else []
    more = len(rows) > first
    rows = rows[:first]
    return FilePage(
        files=await files_out(db, tenant_id, rows),
        folders=folders,
        next_cursor=encode_cursor(rows[-1]) if more else None,
    )


@router.get("/{file_id}", responses=REFUSED)
async def get_file(file_id: uuid.UUID, principal: PrincipalDep, db: TenantDb) -> FileOut:
    """A viewer (``files.read``, or a share: docs/files.md, "Sharing")."""
    row = await file_for(db, principal, file_id, Access.VIEWER)
    return await file_view(db, row.tenant_id, row)


@router.patch("/{file_id}/name", responses=REFUSED)
async def rename_file(
    file_id: uuid.UUID, body: RenameRequest, principal: PrincipalDep, db: TenantDb
) -> FileOut:
    """An editor (``files.write``, or an editor share): a new name (the rules of
    ``workflows/file/rules.py``)."""
    row = await file_for(db, principal, file_id, Access.EDITOR)
    tenant_id = row.tenant_id
    try:
        name = check_name(body.name)
    except FileRuleViolation as violation:
        raise from_rule(violation) from None
    row.name = name
    await db.flush()
    await db.refresh(row)
    return await file_view(db, tenant_id, row)


@router.patch("/{file_id}/folder", responses=REFUSED)
async def move_file(
    file_id: uuid.UUID, body: MoveRequest, principal: PrincipalDep, db: TenantDb
) -> FileOut:
    """An editor (``files.write``, or an editor share): into another folder (``/a/b/``)."""
    row = await file_for(db, principal, file_id, Access.EDITOR)
    tenant_id = row.tenant_id
    try:
        folder = check_folder(body.folder)
    except FileRuleViolation as violation:
        raise from_rule(violation) from None
    row.folder = folder
    await db.flush()
    await db.refresh(row)
    return await file_view(db, tenant_id, row)


@router.delete("/{file_id}", status_code=204, responses=REFUSED)
async def delete_file(file_id: uuid.UUID, principal: PrincipalDep, db: TenantDb) -> Response:
    """``files.write`` or the owner (a share never lets one delete): hidden from every read at
    once (soft delete); the blob stays until the purge (not built yet, docs/files.md)."""
    row = await file_for(db, principal, file_id, Access.OWNER)
    await FileRepository(db, row.tenant_id).soft_delete(row)
    return Response(status_code=204)
