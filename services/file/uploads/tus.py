"""Resumable uploads with the tus 1.0 protocol (``tuspyserver``'s router under ``/uploads/tus``):
creation, HEAD for the offset, PATCH from that offset (409 on any other), termination.

Scoped by tenant through the library's ``file_dep``: each tenant's unfinished uploads live in
their own directory (``<ADX_FILE_TUS_DIR>/<tenant id>/``), so another tenant's upload id is
simply not found (404). Creation needs ``files.write``, a valid ``filename`` (and ``folder``)
in ``Upload-Metadata`` and a declared ``Upload-Length`` within ``ADX_FILE_MAX_TUS_UPLOAD_GIB``
and the tenant's quota, held against it from creation (``Reservation``; no deferred length,
no concatenation). On the last PATCH the bytes move
to the blob store (streamed, hashed, quota checked again) and the tus files are removed; the
file's id is the upload's id (the last segment of its ``Location``) and its ``file_upload`` run
``file-upload-<id>``, as for a direct upload.

The library writes each PATCH chunk to its file on the event loop (short buffered writes);
the move to the blob store reads in a thread."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute
from tuspyserver import create_tus_router

from services.common.app import ResourcesDep
from services.common.errors import DomainError
from services.common.logging import get_logger
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.resources import Resources
from services.common.tokens import Principal
from services.file.access import require
from services.file.errors import file_error, from_rule
from services.file.uploads.intake import (
    Incoming,
    Reservation,
    Sniffer,
    blob_key,
    bounded,
    check_declared,
    register,
    room_left,
)
from services.file.uploads.planned import PLAN_METADATA, PlannedUpload
from workflows.file.contracts import FileError
from workflows.file.file_upload import UploadBytes
from workflows.file.rules import FileRuleViolation, check_folder, check_name
from workflows.tenant.permissions import Permission

log = get_logger(__name__)
#: Not under ``/files``: ``/files/{file_id}`` would take ``GET /files/tus`` for a file id.
PREFIX = "uploads/tus"
GIB = 1024**3
CHUNK = 1024 * 1024
#: The library's default when no dependency says otherwise; every request overrides it.
_UNSCOPED = "/nonexistent/adx-tus-unscoped"


def _planned_id(metadata: dict[str, str]) -> uuid.UUID | None:
    raw = metadata.get(PLAN_METADATA)
    if raw is None:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise file_error(FileError.INVALID_INPUT, f"{PLAN_METADATA} is not a file id") from None


def _header_metadata(header: str) -> dict[str, str]:
    """``Upload-Metadata`` (``key base64,key base64``) as the library reads it; a malformed
    pair is left to the library to refuse."""
    pairs: dict[str, str] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition(" ")
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            pairs[key] = base64.b64decode(value, validate=True).decode()
    return pairs


def new_upload_id(request: Request) -> uuid.UUID:
    """The id a creation gives its upload, chosen here (one per request: FastAPI caches it
    for both dependencies) so its quota hold is taken under it before the library makes it:
    a planned upload's (``upload_id`` in its metadata, ``POST /uploads``), else a new one."""
    if request.method == "POST":
        planned = _planned_id(_header_metadata(request.headers.get("upload-metadata", "")))
        if planned is not None:
            return planned
    return uuid.uuid4()


UploadIdDep = Annotated[uuid.UUID, Depends(new_upload_id)]


async def tenant_directory(
    principal: PrincipalDep,
    resources: ResourcesDep,
    upload_id: UploadIdDep,
    request: Request,
) -> Callable[[dict[str, str]], dict[str, str]]:
    tenant_id = require(principal, Permission.FILES_WRITE)
    directory = resources.settings.tus_root() / str(tenant_id)
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    if request.method == "PATCH" and "uuid" in request.path_params:
        await _announce_offset(resources, principal, directory, str(request.path_params["uuid"]))
    # Only the creation route reads "uid"; the other routes take the id from their path.
    return lambda _metadata: {"files_dir": str(directory), "uid": upload_id.hex}


async def _announce_offset(
    resources: Resources, principal: Principal, directory: Path, uid: str
) -> None:
    """A planned upload's PATCH tells its run how many bytes the earlier ones brought (the
    run's progress: ``receiving the bytes: n of size``); its last PATCH says ``stored``. Best
    effort: a PATCH is not refused because Temporal did not take the news."""
    try:
        file_id = uuid.UUID(uid)
        params = json.loads(await asyncio.to_thread((directory / f"{file_id.hex}.info").read_text))
        offset, size = int(params.get("offset") or 0), params.get("size")
    except (OSError, ValueError, TypeError, AttributeError):
        return  # not an upload of this tenant's: the library answers 404
    if not isinstance(params.get("metadata"), dict) or _planned_id(params["metadata"]) is None:
        return
    plan = PlannedUpload(resources, require(principal, Permission.FILES_WRITE), file_id)
    try:
        await plan.announce(principal, UploadBytes(offset, size if isinstance(size, int) else None))
    except DomainError as error:
        log.warning("tus_progress_not_announced", file_id=str(file_id), detail=error.detail)


def _names(metadata: dict[str, str]) -> tuple[str, str]:
    try:
        return check_name(metadata.get("filename", "")), check_folder(metadata.get("folder") or "/")
    except FileRuleViolation as violation:
        raise from_rule(violation) from None


async def before_create(
    principal: PrincipalDep,
    request: Request,
    resources: ResourcesDep,
    upload_id: UploadIdDep,
) -> Callable[[dict[str, str], dict[str, Any]], Awaitable[None]]:
    tenant_id = require(principal, Permission.FILES_WRITE)
    if request.headers.get("upload-concat"):
        raise file_error(FileError.INVALID_INPUT, "concatenated uploads are not supported")

    async def check(metadata: dict[str, str], upload: dict[str, Any]) -> None:
        _names(metadata)
        if upload.get("defer_length") or upload.get("size") is None:
            raise file_error(FileError.INVALID_INPUT, "declare the Upload-Length")
        _, room = await room_left(resources, tenant_id)
        limit = resources.settings.file_max_tus_upload_gib * GIB
        check_declared(int(upload["size"]), limit=limit, room=room)
        plan = None
        if _planned_id(metadata) is not None:
            # The plan's for the whole upload: a second creation under it is a 409.
            plan = PlannedUpload(resources, tenant_id, upload_id)
            await plan.claim()
        try:
            # Held until the last PATCH's row counts (or the upload fails there, or the hold
            # ages out: an abandoned or terminated upload's after a day).
            await Reservation(resources, tenant_id, upload_id, limit).declared(int(upload["size"]))
        except BaseException:
            if plan is not None:
                await asyncio.shield(plan.unclaim())
            raise

    return check


async def _read(path: Path) -> AsyncIterator[bytes]:
    file = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(file.read, CHUNK):
            yield chunk
    finally:
        await asyncio.to_thread(file.close)


def _remove(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".info")):
        leftover.unlink(missing_ok=True)


async def on_complete(
    principal: PrincipalDep, resources: ResourcesDep
) -> Callable[[str, dict[str, str]], Awaitable[None]]:
    tenant_id = require(principal, Permission.FILES_WRITE)

    async def finish(file_path: str, metadata: dict[str, str]) -> None:
        path = Path(file_path)
        file_id = uuid.UUID(path.name)
        limit = resources.settings.file_max_tus_upload_gib * GIB
        try:
            name, folder = _names(metadata)
            incoming = Incoming(tenant_id, file_id, name, folder, blob_key(tenant_id, file_id))
            _, room = await room_left(resources, tenant_id)
            sniffer = Sniffer()
            stored = await resources.blobs.put_stream(
                incoming.key, bounded(_read(path), sniffer, limit=limit, room=room)
            )
            planned = _planned_id(metadata) is not None
            plan = PlannedUpload(resources, tenant_id, file_id) if planned else None
            await register(resources, principal, incoming, stored, sniffer, plan)
        finally:
            await asyncio.shield(asyncio.to_thread(_remove, path))
            # The creation's hold (register removed it already when the row went in).
            hold = Reservation(resources, tenant_id, file_id, limit)
            await asyncio.shield(hold.release())

    return finish


#: What the library's routes and our hooks answer besides success (the library declares none).
REFUSALS: dict[int | str, dict[str, Any]] = {
    400: problem_response(400, "Malformed tus headers or metadata"),
    403: problem_response(403, "No active tenant, or no files.write permission"),
    404: problem_response(404, "No such upload in this tenant"),
    409: problem_response(409, "Upload-Offset is not the upload's offset"),
    410: problem_response(410, "The unfinished upload has expired"),
    412: problem_response(412, "Tus-Resumable is not 1.0.0"),
    413: problem_response(413, "Over ADX_FILE_MAX_TUS_UPLOAD_GIB or the tenant's storage quota"),
    415: problem_response(415, "A PATCH body must be application/offset+octet-stream"),
}


def tus_router(max_size: int = 5120 * GIB) -> APIRouter:
    """The library's router, its routes' refusals documented; ``max_size`` is its own ceiling
    (the setting is checked per upload at creation)."""
    router = create_tus_router(
        prefix=PREFIX,
        files_dir=_UNSCOPED,
        max_size=max_size,
        days_to_keep=2,
        # Its annotations say sync callables; it awaits whatever they return (isawaitable).
        file_dep=tenant_directory,  # type: ignore[arg-type]
        pre_create_dep=before_create,  # type: ignore[arg-type]
        upload_complete_dep=on_complete,  # type: ignore[arg-type]
        tags=["uploads (tus)"],
        strict_offset_validation=True,
    )
    for route in router.routes:
        if isinstance(route, APIRoute):
            route.responses = {**REFUSALS, **route.responses}
    return router


def hide_transport_headers(app: FastAPI) -> None:
    """The library declares ``Content-Length`` as a parameter of its PATCH; it is the HTTP
    framing of the body, which every client sets and the server (uvicorn) checks before the app
    sees the request: left out of the OpenAPI document, so no client is told to choose it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        for path, item in document.get("paths", {}).items():
            if not path.startswith("/" + PREFIX):
                continue
            for operation in item.values():
                if isinstance(operation, dict) and "parameters" in operation:
                    operation["parameters"] = [
                        p
                        for p in operation["parameters"]
                        if not (p.get("in") == "header" and p.get("name") == "content-length")
                    ]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
