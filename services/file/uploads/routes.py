"""The direct upload: ``POST /files?name=...&folder=...`` with the file's bytes as the body (any
length up to ``ADX_FILE_MAX_DIRECT_UPLOAD_MIB``; ``Content-Length`` or chunked), streamed into
the blob store, then ``file_upload`` started: 202 with the row (``uploading``) and the run id.
Larger files: the tus endpoint (``services/file/uploads/tus.py``)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.requests import ClientDisconnect

from services.common.app import ResourcesDep
from services.common.errors import DomainError
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.resources import Resources
from services.common.tokens import Principal
from services.file.access import require
from services.file.errors import file_error, from_rule
from services.file.files.views import file_out
from services.file.schemas import UploadAccepted
from services.file.uploads.intake import (
    MIB,
    Incoming,
    Reservation,
    Sniffer,
    blob_key,
    bounded,
    check_declared,
    register,
    room_left,
)
from services.file.uploads.planned import PlannedUpload
from workflows.file.contracts import FileError
from workflows.file.rules import FileRuleViolation, check_folder, check_name
from workflows.tenant.permissions import Permission

router = APIRouter(prefix="/files", tags=["uploads"])
REFUSED: dict[int | str, dict[str, Any]] = {
    400: problem_response(400, "The client went away before the body was complete"),
    403: problem_response(403, "No active tenant, or no files.write permission"),
    404: problem_response(404, "No such planned upload (unknown, used, expired, another tenant's)"),
    409: problem_response(409, "This upload is being processed already, or its plan is in use"),
    413: problem_response(413, "Over the size limit or the tenant's storage quota"),
    422: problem_response(422, "An invalid name or folder, an empty file"),
}
BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class ClientGone(DomainError):
    status = 400
    title = "Upload interrupted"


def _declared(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 19:
        raise file_error(FileError.INVALID_INPUT, "Content-Length is not a byte count")
    return int(raw)


@router.post("", status_code=202, responses=REFUSED, openapi_extra=BODY)
async def upload_file(
    request: Request,
    principal: PrincipalDep,
    resources: ResourcesDep,
    name: Annotated[str, Query(min_length=1, max_length=1024)],
    folder: Annotated[str, Query(min_length=1, max_length=1024)] = "/",
    upload_id: Annotated[
        uuid.UUID | None, Query(description="The plan's file id (POST /uploads), if planned")
    ] = None,
) -> UploadAccepted:
    """``files.write``. The type is detected from the bytes; what the client claims is ignored.
    With ``upload_id`` the bytes are the planned upload's (its run waits for them): 404 for an
    unknown, spent or expired plan, 409 while another upload carries it."""
    tenant_id = require(principal, Permission.FILES_WRITE)
    try:
        clean_name, clean_folder = check_name(name), check_folder(folder)
    except FileRuleViolation as violation:
        raise from_rule(violation) from None
    limit = resources.settings.file_max_direct_upload_mib * MIB
    _, room = await room_left(resources, tenant_id)
    declared = _declared(request)
    check_declared(declared, limit=limit, room=room)
    file_id = upload_id or uuid.uuid4()
    incoming = Incoming(tenant_id, file_id, clean_name, clean_folder, blob_key(tenant_id, file_id))
    if upload_id is None:
        return await _receive(request, principal, resources, incoming, (limit, room), None)
    plan = PlannedUpload(resources, tenant_id, upload_id)
    await plan.claim()
    try:
        return await _receive(request, principal, resources, incoming, (limit, room), plan)
    except BaseException:
        await asyncio.shield(plan.unclaim())
        raise


async def _receive(
    request: Request,
    principal: Principal,
    resources: Resources,
    incoming: Incoming,
    bounds: tuple[int, int],
    plan: PlannedUpload | None,
) -> UploadAccepted:
    """The body into the blob store, then the row and the run (``register``)."""
    (limit, room), declared = bounds, _declared(request)
    tenant_id, file_id = incoming.tenant_id, incoming.file_id
    sniffer = Sniffer()
    # Held against the quota until the row counts (concurrent uploads cannot overrun it).
    reservation = Reservation(resources, tenant_id, file_id, limit)
    try:
        if declared is not None:
            await reservation.declared(declared)
        try:
            stored = await resources.blobs.put_stream(
                incoming.key,
                bounded(request.stream(), sniffer, limit=limit, room=room, reservation=reservation),
            )
        except ClientDisconnect:
            raise ClientGone("the body ended before it was complete; nothing was stored") from None
        row = await register(resources, principal, incoming, stored, sniffer, plan)
    finally:
        await asyncio.shield(reservation.release())
    return UploadAccepted(file=file_out(row), workflow_id=row.workflow_id or "")
