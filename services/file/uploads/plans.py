"""``POST /uploads``: where and how to send a file's bytes, checked before any byte is sent (the
name and folder rules, the size limits, the tenant's quota left). A file up to
``ADX_FILE_MAX_DIRECT_UPLOAD_MIB`` goes as one ``POST /files?upload_id=``; a larger one through
tus at ``/uploads/tus`` (``upload_id`` in its metadata). The plan fixes the file's id, holds its
size against the quota and starts its ``file_upload`` run, which waits for the bytes
(``services/file/uploads/planned.py``): the answer names the run to follow. No row is written
until the bytes are in."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter

from services.common.app import ResourcesDep
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.file.access import require
from services.file.errors import from_rule
from services.file.schemas import UploadPlan, UploadPlanRequest
from services.file.uploads.intake import MIB, Reservation, check_declared, room_left
from services.file.uploads.planned import PLAN_METADATA, PlannedUpload
from services.file.uploads.tus import GIB, PREFIX
from workflows.file.rules import FileRuleViolation, check_folder, check_name
from workflows.tenant.permissions import Permission

router = APIRouter(prefix="/uploads", tags=["uploads"])
REFUSED: dict[int | str, dict[str, Any]] = {
    403: problem_response(403, "No active tenant, or no files.write permission"),
    413: problem_response(413, "Over the size limit or the tenant's storage quota"),
    422: problem_response(422, "An invalid name, folder or size"),
}


def _tus_metadata(name: str, folder: str, file_id: uuid.UUID) -> str:
    """``filetype`` too: tuspyserver's HEAD (the offset a client resumes from) refuses an upload
    without one; the type stored is still detected from the bytes."""
    pairs = (
        ("filename", name),
        ("folder", folder),
        ("filetype", "application/octet-stream"),
        (PLAN_METADATA, str(file_id)),
    )
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in pairs)


@router.post("", responses=REFUSED)
async def plan_upload(
    body: UploadPlanRequest, principal: PrincipalDep, resources: ResourcesDep
) -> UploadPlan:
    """``files.write``: the direct URL with its headers, or the tus endpoint for a large file."""
    tenant_id = require(principal, Permission.FILES_WRITE)
    try:
        name, folder = check_name(body.name), check_folder(body.folder)
    except FileRuleViolation as violation:
        raise from_rule(violation) from None
    settings = resources.settings
    direct = settings.file_max_direct_upload_mib * MIB
    largest = settings.file_max_tus_upload_gib * GIB
    _, room = await room_left(resources, tenant_id)
    check_declared(body.size, limit=largest, room=room)
    plan = PlannedUpload(resources, tenant_id, uuid.uuid4(), body.size)
    reservation = Reservation(resources, tenant_id, plan.file_id, largest)
    await reservation.declared(body.size)
    try:
        await plan.record(principal)
    except BaseException:
        await asyncio.shield(reservation.release())
        raise

    def answer(protocol: str, url: str, headers: dict[str, str]) -> UploadPlan:
        return UploadPlan(
            protocol=protocol,
            method="POST",
            url=url,
            headers=headers,
            max_direct_bytes=direct,
            room_bytes=room,
            file_id=plan.file_id,
            workflow_id=plan.workflow_id,
        )

    if body.size <= direct:
        query = {"name": name, "folder": folder, "upload_id": str(plan.file_id)}
        headers = {"Content-Type": "application/octet-stream"}
        return answer("direct", "/files?" + urlencode(query), headers)
    metadata = _tus_metadata(name, folder, plan.file_id)
    headers = {
        "Tus-Resumable": "1.0.0",
        "Upload-Length": str(body.size),
        "Upload-Metadata": metadata,
    }
    return answer("tus", f"/{PREFIX}", headers)
