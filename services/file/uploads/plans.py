"""``POST /uploads``: where and how to send a file's bytes, checked before any byte is sent (the
name and folder rules, the size limits, the tenant's quota left). A file up to
``ADX_FILE_MAX_DIRECT_UPLOAD_MIB`` goes as one ``POST /files``; a larger one through tus at
``/uploads/tus``. Nothing is written: the row and the ``file_upload`` run start with the bytes
(their answer, or the tus upload's id, names the run)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter

from services.common.app import ResourcesDep
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.file.access import require
from services.file.errors import from_rule
from services.file.schemas import UploadPlan, UploadPlanRequest
from services.file.uploads.intake import MIB, check_declared, room_left
from services.file.uploads.tus import GIB, PREFIX
from workflows.file.rules import FileRuleViolation, check_folder, check_name
from workflows.tenant.permissions import Permission

router = APIRouter(prefix="/uploads", tags=["uploads"])
REFUSED: dict[int | str, dict[str, Any]] = {
    403: problem_response(403, "No active tenant, or no files.write permission"),
    413: problem_response(413, "Over the size limit or the tenant's storage quota"),
    422: problem_response(422, "An invalid name, folder or size"),
}


def _tus_metadata(name: str, folder: str) -> str:
    """``filetype`` too: tuspyserver's HEAD (the offset a client resumes from) refuses an upload
    without one; the type stored is still detected from the bytes."""
    pairs = (("filename", name), ("folder", folder), ("filetype", "application/octet-stream"))
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
    if body.size <= direct:
        return UploadPlan(
            protocol="direct",
            method="POST",
            url="/files?" + urlencode({"name": name, "folder": folder}),
            headers={"Content-Type": "application/octet-stream"},
            max_direct_bytes=direct,
            room_bytes=room,
        )
    return UploadPlan(
        protocol="tus",
        method="POST",
        url=f"/{PREFIX}",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(body.size),
            "Upload-Metadata": _tus_metadata(name, folder),
        },
        max_direct_bytes=direct,
        room_bytes=room,
    )
