"""Bulk operations over HTTP (``members.manage`` in the active tenant): an upload starts
``bulk_user_operation`` and answers 202 with the run's id (follow it with ``workflowProgress``,
cancel it through the workflow service); its report is read back here, as JSON or CSV, by the
same tenant only.

- ``POST /users/bulk/operations?operation=import|change_role|deactivate|delete``: the body is CSV
  (``text/csv``) or JSON (``application/json``, an array of row objects), at most ``MAX_BYTES``
  and ``MAX_ROWS`` rows (413 beyond), readable (UTF-8, known columns; 422 if not). Malformed rows
  are kept as failed in the report, the rest run.
- ``GET /users/bulk/{workflow_id}/report?format=json|csv``: every row's status, error and user.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from services.common.app import DatabaseDep, ResourcesDep
from services.common.errors import DomainError, NotFoundError
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.tenant_db import TenantDb
from services.user.access import caller_id, require
from services.user.bulk import operations
from services.user.bulk.upload import UploadRefused, parse_upload
from services.user.errors import user_error
from services.user.schemas import BulkReport, BulkStarted
from workflows.tenant.permissions import Permission
from workflows.user.bulk_contracts import MAX_BYTES, MAX_ROWS, BulkKind
from workflows.user.contracts import UserError

router = APIRouter(prefix="/users/bulk", tags=["bulk"])
REFUSED: dict[int | str, dict[str, Any]] = {
    403: problem_response(403, "No members.manage permission in the active tenant"),
}
UPLOAD_REFUSED: dict[int | str, dict[str, Any]] = {
    **REFUSED,
    413: problem_response(413, f"More than {MAX_BYTES} bytes or {MAX_ROWS} rows"),
    415: problem_response(415, "Neither text/csv nor application/json"),
    422: problem_response(422, "Not UTF-8, unknown or missing columns, no rows"),
    503: problem_response(503, "The run could not be started; nothing was stored"),
}
CSV_UPLOAD = {
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
    }
}


class PayloadTooLargeError(DomainError):
    status = 413
    type = "https://adx.dev/problems/payload-too-large"
    title = "Payload too large"


class UnsupportedMediaTypeError(DomainError):
    status = 415
    type = "https://adx.dev/problems/unsupported-media-type"
    title = "Unsupported media type"


def _media_type(request: Request) -> str:
    value = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if value in ("text/csv", "application/csv"):
        return "csv"
    if value == "application/json":
        return "json"
    raise UnsupportedMediaTypeError("send the rows as text/csv or application/json")


async def _body(request: Request) -> bytes:
    """The body, read no further than ``MAX_BYTES`` (a longer one is refused as it arrives)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise PayloadTooLargeError(f"an upload holds at most {MAX_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BYTES:
            raise PayloadTooLargeError(f"an upload holds at most {MAX_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/operations",
    status_code=202,
    responses=UPLOAD_REFUSED,
    openapi_extra={"requestBody": CSV_UPLOAD},
)
async def start_bulk_operation(
    request: Request,
    operation: Annotated[BulkKind, Query(description="What to do to each row's user")],
    principal: PrincipalDep,
    resources: ResourcesDep,
    database: DatabaseDep,
) -> BulkStarted:
    """Run one operation over many users of the active tenant (``members.manage``)."""
    tenant_id = require(principal, Permission.MEMBERS_MANAGE)
    actor_id = caller_id(principal)
    media_type = _media_type(request)
    body = await _body(request)
    try:
        # CPU work (CSV, e-mail syntax, names for 10,000 rows): off the event loop.
        upload = await asyncio.to_thread(parse_upload, operation, body, media_type)
    except UploadRefused as refused:
        if refused.too_large:
            raise PayloadTooLargeError(refused.message) from None
        raise user_error(UserError.INVALID_INPUT, refused.message) from None
    workflow_id, total, failed = await operations.start(
        database,
        resources.temporal,
        resources.settings,
        principal,
        tenant_id,
        actor_id,
        operation,
        upload,
    )
    return BulkStarted(workflow_id=workflow_id, total=total, refused=failed)


REPORT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
    **REFUSED,
    404: problem_response(404, "No such run in this tenant"),
}


@router.get("/{workflow_id}/report", response_model=BulkReport, responses=REPORT)
async def bulk_operation_report(
    workflow_id: Annotated[str, Path(max_length=200)],
    principal: PrincipalDep,
    db: TenantDb,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    """Every row of the operation: its status (``pending``, ``done``, ``failed``,
    ``cancelled``), the error of a failed one, its user."""
    tenant_id = require(principal, Permission.MEMBERS_MANAGE)
    found = await operations.report(db, tenant_id, workflow_id)
    if found is None:
        raise NotFoundError("no such bulk operation in this tenant")
    if format == "csv":
        return Response(
            operations.report_csv(found.rows),
            media_type="text/csv",
            headers={"content-disposition": 'attachment; filename="bulk-report.csv"'},
        )
    return found
