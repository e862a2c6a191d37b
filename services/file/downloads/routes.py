"""Downloads: ``GET /files/{id}/content`` for a caller with ``files.read``; ``POST
/files/{id}/signed-url`` hands out a link that works without a token until it expires
(``GET /files/signed/{tenant}/{id}?v=&exp=&kid=&sig=``, checked by its own HMAC: on
``OWN_CREDENTIAL_ROUTES``). Only ``ready`` files are served (409 otherwise: a quarantined file
never is); another tenant's file is a 404, as an unknown one."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.common.app import DatabaseDep, ResourcesDep
from services.common.errors import UnauthorizedError
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.tenant_db import TenantDb
from services.file.access import Access, file_for
from services.file.downloads.serve import file_response, require_ready
from services.file.downloads.signed_urls import SignedLink, UrlSigner
from services.file.errors import file_error, not_found
from services.file.schemas import SignedUrl
from storage.db import transaction
from storage.files.repository import FileRepository
from workflows.file.contracts import FileError

router = APIRouter(prefix="/files", tags=["downloads"])
BYTES: dict[str, Any] = {
    "description": "The file's bytes (all of them, or the range asked for: 206)",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}
SERVED: dict[int | str, dict[str, Any]] = {
    200: BYTES,
    206: BYTES,
    304: {"description": "Not modified (If-None-Match matched the ETag)"},
    404: problem_response(404, "No such file (or another tenant's, or deleted)"),
    409: problem_response(
        409, "The file is not ready (uploading, scanning, quarantined, rejected)"
    ),
    416: {"description": "The range lies outside the file"},
}
REFUSED: dict[int | str, dict[str, Any]] = {
    403: problem_response(403, "No active tenant, or no files.read permission")
}
LINK_REFUSED: dict[int | str, dict[str, Any]] = {
    401: problem_response(401, "Not a signed link (v, exp, kid or sig missing)"),
    403: problem_response(403, "The signature does not verify (tampered, another file)"),
    410: problem_response(410, "The link has expired, or the file has changed since"),
}


@router.get("/{file_id}/content", response_class=Response, responses={**SERVED, **REFUSED})
async def download_file(
    file_id: uuid.UUID,
    request: Request,
    principal: PrincipalDep,
    db: TenantDb,
    resources: ResourcesDep,
) -> Response:
    row = await file_for(db, principal, file_id, Access.VIEWER)
    return file_response(request, row, resources.blob_store(row.store))


@router.post("/{file_id}/signed-url", responses={**REFUSED, **{k: SERVED[k] for k in (404, 409)}})
async def sign_download(
    file_id: uuid.UUID,
    principal: PrincipalDep,
    db: TenantDb,
    resources: ResourcesDep,
    expires_in: Annotated[int | None, Query(ge=10, le=7 * 24 * 3600)] = None,
) -> SignedUrl:
    """A viewer (``files.read``, or a share): a link to this version of a ready file, for ``expires_in`` seconds (at
    most ``ADX_FILE_SIGNED_URL_SECONDS``)."""
    row = await file_for(db, principal, file_id, Access.VIEWER)
    tenant_id = row.tenant_id
    require_ready(row)
    lifetime = min(
        expires_in or resources.settings.file_signed_url_seconds,
        resources.settings.file_signed_url_seconds,
    )
    expires = int(time.time()) + lifetime
    url = UrlSigner.for_settings(resources.settings).url(
        SignedLink(tenant_id, row.id, row.version, expires)
    )
    return SignedUrl(url=url, expires_at=datetime.fromtimestamp(expires, UTC))


@router.get(
    "/signed/{tenant_id}/{file_id}",
    response_class=Response,
    responses={**SERVED, **LINK_REFUSED},
)
async def signed_download(
    tenant_id: uuid.UUID,
    file_id: uuid.UUID,
    request: Request,
    database: DatabaseDep,
    resources: ResourcesDep,
    v: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    exp: Annotated[int | None, Query(ge=0, le=2**40)] = None,
    kid: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    sig: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
) -> Response:
    """No token: the link is the credential (its signature first, then its expiry); a link
    without one is refused as any anonymous caller is (401)."""
    if v is None or exp is None or kid is None or sig is None:
        raise UnauthorizedError("a signed link carries v, exp, kid and sig")
    UrlSigner.for_settings(resources.settings).verify(
        SignedLink(tenant_id, file_id, v, exp), kid, sig
    )
    async with transaction(database, tenant_id) as db:
        row = await FileRepository(db, tenant_id).visible(file_id)
    if row is None:
        raise not_found()
    if row.version != v:
        raise file_error(FileError.URL_EXPIRED, "the file has changed since this link was made")
    return file_response(request, row, resources.blob_store(row.store), cache="private, max-age=60")
