"""File operations. Routing (rule: a mutation starts a workflow only when it spans services or
steps):

- queries (``files``, ``file``) call the file service directly, which checks the caller's
  permission in their active tenant (the token's ``tid``) and reads under its RLS scope, so
  another tenant's file is ``NOT_FOUND``; owners come from the ``users`` loader (one batched
  call per request), download links from the file service's signed-URL route;
- ``createUpload`` asks the file service where and how to send the bytes (``POST /uploads``:
  checks, the size held against the quota, no row yet) and answers the file's ``file_upload``
  run, which the plan started and which waits for the bytes, with its access token;
- ``renameFile``, ``moveFile``, ``deleteFile`` are the file service's own writes, direct.

Ids and texts are checked here before they become part of a path or a query, so a hostile one
is a ``BAD_USER_INPUT`` and never reaches the service (nor opens its circuit)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from resolvers.workflow_runs import run_to_follow
from schema.errors import BAD_USER_INPUT, UserFacingError
from schema.files import (
    MAX_NAME,
    MAX_SEARCH,
    CreateUploadInput,
    File,
    FileConnection,
    FileEdge,
    UploadTarget,
    file_of,
    upload_target,
)
from schema.pagination import MAX_CURSOR, MAX_PAGE, PageInfo, check_first
from schema.tenants import uuid_arg
from services.common.settings import ServiceName
from services.file.schemas import FileOut, FilePage, UploadPlan

if TYPE_CHECKING:
    from gateway.context import GatewayContext
    from gateway.service_clients import ServiceCall


def _files(info: strawberry.Info[GatewayContext]) -> ServiceCall:
    return info.context.service(ServiceName.file, signed_in=True)


def _text(raw: str, what: str, longest: int) -> str:
    if not 0 < len(raw) <= longest or "\x00" in raw:
        raise UserFacingError(f"{what} must be 1-{longest} characters, no NUL", BAD_USER_INPUT)
    return raw


def _path(file_id: str) -> str:
    return f"/files/{uuid_arg(file_id, 'file id')}"


# -- queries -------------------------------------------------------------------------------------


async def resolve_files(
    info: strawberry.Info[GatewayContext],
    folder: Annotated[
        str | None, strawberry.argument(description="'/a/b/'; null with a search: every folder")
    ] = "/",
    search: Annotated[str | None, strawberry.argument(description="part of the name")] = None,
    first: Annotated[int, strawberry.argument(description=f"1-{MAX_PAGE}")] = 50,
    after: str | None = None,
) -> FileConnection:
    check_first(first)
    params: dict[str, object] = {"first": first, "folder": ""}
    if folder is not None:
        params["folder"] = _text(folder, "folder", MAX_NAME)
    if search is not None:
        params["search"] = _text(search, "search", MAX_SEARCH)
    if after is not None:
        if not 0 < len(after) <= MAX_CURSOR:
            raise UserFacingError("after is not a cursor of this list", BAD_USER_INPUT)
        params["after"] = after
    page = await _files(info).call("GET", "/files", params=params, response=FilePage)
    # The file service names where a page ends (not each row): the last edge carries it.
    last = len(page.files) - 1
    edges = [
        FileEdge(cursor=page.next_cursor or "" if i == last else "", node=file_of(row))
        for i, row in enumerate(page.files)
    ]
    return FileConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=page.next_cursor is not None, end_cursor=page.next_cursor),
        folders=page.folders,
    )


async def resolve_file(info: strawberry.Info[GatewayContext], id: strawberry.ID) -> File:
    return file_of(await _files(info).call("GET", _path(id), response=FileOut))


# -- mutations -----------------------------------------------------------------------------------


async def resolve_create_upload(
    info: strawberry.Info[GatewayContext], input: CreateUploadInput
) -> UploadTarget:
    if not 1 <= input.size < 2**53 or input.size != int(input.size):
        raise UserFacingError("size must be a whole number of bytes, at least 1", BAD_USER_INPUT)
    body = {
        "name": _text(input.name, "name", MAX_NAME),
        "folder": _text(input.folder, "folder", MAX_NAME),
        "size": int(input.size),
    }
    plan = await _files(info).call("POST", "/uploads", json=body, response=UploadPlan)
    return upload_target(plan, await run_to_follow(info, plan.workflow_id))


async def resolve_rename_file(
    info: strawberry.Info[GatewayContext], id: strawberry.ID, name: str
) -> File:
    body = {"name": _text(name, "name", MAX_NAME)}
    return file_of(
        await _files(info).call("PATCH", f"{_path(id)}/name", json=body, response=FileOut)
    )


async def resolve_move_file(
    info: strawberry.Info[GatewayContext], id: strawberry.ID, folder: str
) -> File:
    body = {"folder": _text(folder, "folder", MAX_NAME)}
    return file_of(
        await _files(info).call("PATCH", f"{_path(id)}/folder", json=body, response=FileOut)
    )


async def resolve_delete_file(info: strawberry.Info[GatewayContext], id: strawberry.ID) -> bool:
    await _files(info).send("DELETE", _path(id))
    return True
