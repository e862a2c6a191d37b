"""Sharing over HTTP (docs/files.md, "Sharing").

- ``POST /files/{id}/shares`` (an editor of the file): starts ``file_sharing`` (it checks the
  grantee with the tenant service, writes the share, mails, and ends it at its expiry): 202
  with the share id and run id. A link's password is hashed here (argon2id, off the event
  loop) so it is never in a workflow payload.
- ``GET /files/{id}/shares``, ``DELETE /files/{id}/shares/{share_id}`` (an editor): direct, one
  service's own rows. A revocation is one ``UPDATE``, committed before the answer, so it binds
  every later read at once; the run waiting for the expiry is then told (a signal) and ends.
- ``/shares/links/{token}`` (no bearer token: the link is the credential): what the link
  opens, its bytes (``GET``, or ``POST`` with the password), and an edit link's rename. The
  token's HMAC first (401), then the share's status and expiry (410), then the password
  (401 / 403); only a ready file is served (409), through the download's own streaming code.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from structlog.stdlib import get_logger

from services.common import workflow_calls
from services.common.app import DatabaseDep, ResourcesDep
from services.common.errors import ConflictError
from services.common.openapi import problem_response
from services.common.passwords import burn_verify_time, hash_password, verify_password
from services.common.principal import PrincipalDep
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName
from services.file.access import file_to_share, user_id
from services.file.downloads.serve import file_response, require_ready
from services.file.errors import file_error, from_rule
from services.file.schemas import (
    LinkPassword,
    LinkRename,
    SharedFileOut,
    ShareList,
    ShareOut,
    ShareRequest,
    ShareStarted,
)
from services.file.sharing.links import LinkRef, LinkSigner
from storage.db import transaction
from storage.files.models import FileRecord, FileShare, FileStatus, ShareKind, ShareStatus
from storage.files.repository import FileRepository
from storage.files.shares import ShareRepository
from workflows.file.contracts import FileError
from workflows.file.file_sharing import (
    FileSharingInput,
    FileSharingWorkflow,
    ShareRevoked,
    file_sharing_workflow_id,
)
from workflows.file.rules import FileRuleViolation, check_name
from workflows.file.sharing_contracts import REVOKED_SIGNAL

log = get_logger(__name__)
router = APIRouter(tags=["sharing"])
REFUSED: dict[int | str, dict[str, Any]] = {
    403: problem_response(403, "No active tenant, or not an editor of the file"),
    404: problem_response(404, "No such file or share (or another tenant's)"),
    409: problem_response(409, "A quarantined or rejected file is not shared"),
    422: problem_response(422, "An invalid share (kind, grantee, expiry, password, addresses)"),
}
LINK_REFUSED: dict[int | str, dict[str, Any]] = {
    401: problem_response(401, "Not a valid link (tampered), or a password is asked"),
    403: problem_response(403, "The wrong password, or a download-only link (rename)"),
    404: problem_response(404, "The shared file is gone"),
    409: problem_response(409, "The file is not ready (scanning, quarantined, rejected)"),
    410: problem_response(410, "The share was revoked or has expired"),
}
PASSWORD_HEADER = "X-Share-Password"  # noqa: S105 (a header name)


def _live_status(share: FileShare, now: datetime) -> str:
    if share.status == ShareStatus.ACTIVE.value and share.expires_at and share.expires_at <= now:
        return ShareStatus.EXPIRED.value
    return share.status


def share_out(share: FileShare, signer: LinkSigner, now: datetime) -> ShareOut:
    status = _live_status(share, now)
    url = None
    if share.kind == ShareKind.LINK.value and status == ShareStatus.ACTIVE.value:
        url = signer.path(LinkRef(share.tenant_id, share.id))
    return ShareOut(
        id=share.id,
        file_id=share.file_id,
        kind=share.kind,
        grantee=share.grantee,
        permission=share.permission,
        status=status,
        notify_status=share.notify_status,
        notify_detail=share.notify_detail,
        password_protected=share.password_hash is not None,
        expires_at=share.expires_at,
        created_by=share.created_by,
        created_at=share.created_at,
        revoked_at=share.revoked_at,
        workflow_id=share.workflow_id,
        url=url,
    )


@router.post("/files/{file_id}/shares", status_code=202, responses=REFUSED)
async def share_file(
    file_id: uuid.UUID,
    body: ShareRequest,
    principal: PrincipalDep,
    database: DatabaseDep,
    resources: ResourcesDep,
) -> ShareStarted:
    """An editor of the file (``files.write``, the owner, an editor share) shares it."""
    tenant_id = _tenant(principal)
    async with transaction(database, tenant_id) as db:
        row = await file_to_share(db, principal, file_id)
    if row.status in (FileStatus.QUARANTINED.value, FileStatus.REJECTED.value):
        raise file_error(FileError.FILE_NOT_READY, f"a {row.status} file cannot be shared")
    password_hash = await hash_password(body.password) if body.password is not None else None
    share_id = uuid.uuid4()
    workflow_id = file_sharing_workflow_id(str(share_id))
    with acting_as(SecurityContext.for_principal(principal)):
        await workflow_calls.start(
            resources.temporal,
            FileSharingWorkflow.run,
            FileSharingInput(
                tenant_id=str(tenant_id),
                file_id=str(file_id),
                share_id=str(share_id),
                kind=body.kind,
                grantee=body.grantee,
                permission=body.permission,
                sharer_id=principal.user_id,
                password_hash=password_hash,
                expires_in_seconds=body.expires_in_seconds,
                recipients=[address.lower() for address in body.recipients],
            ),
            id=workflow_id,
            task_queue=resources.settings.task_queue(ServiceName.file),
            errors=workflow_calls.WorkflowErrors(
                call="file_sharing",
                already_started=lambda: ConflictError("this share is being made"),
            ),
        )
    log.info("file_sharing_started", file_id=str(file_id), share_id=str(share_id), kind=body.kind)
    return ShareStarted(share_id=share_id, workflow_id=workflow_id)


@router.get("/files/{file_id}/shares", responses=REFUSED)
async def list_shares(
    file_id: uuid.UUID, principal: PrincipalDep, database: DatabaseDep, resources: ResourcesDep
) -> ShareList:
    """An editor of the file: every share of it, ended ones too, oldest first."""
    tenant_id = _tenant(principal)
    async with transaction(database, tenant_id) as db:
        await file_to_share(db, principal, file_id)
        shares = await ShareRepository(db, tenant_id).of_file(file_id)
    signer, now = LinkSigner.for_settings(resources.settings), datetime.now(UTC)
    return ShareList(shares=[share_out(s, signer, now) for s in shares])


@router.delete("/files/{file_id}/shares/{share_id}", status_code=204, responses=REFUSED)
async def revoke_share(
    file_id: uuid.UUID,
    share_id: uuid.UUID,
    principal: PrincipalDep,
    database: DatabaseDep,
    resources: ResourcesDep,
) -> Response:
    """An editor of the file revokes one of its shares: at once (committed before the answer);
    revoking an ended share again changes nothing (204 too)."""
    tenant_id = _tenant(principal)
    async with transaction(database, tenant_id) as db:
        await file_to_share(db, principal, file_id)
        repository = ShareRepository(db, tenant_id)
        share = await repository.of_file_by_id(file_id, share_id)
        if share is None:
            raise file_error(FileError.FILE_NOT_FOUND, "no such share")
        ended = await repository.end(
            share_id, ShareStatus.REVOKED, datetime.now(UTC), user_id(principal)
        )
        workflow_id = share.workflow_id
    if ended and workflow_id:
        await _tell_run(resources, workflow_id, principal.user_id)
    return Response(status_code=204)


async def _tell_run(resources: Any, workflow_id: str, by: str) -> None:
    """The waiting run ends now instead of at the expiry; the share is revoked already, so a
    run that has ended, or a Temporal that does not answer, changes nothing for the caller."""
    try:
        handle = resources.temporal.get_workflow_handle(workflow_id)
        await handle.signal(REVOKED_SIGNAL, ShareRevoked(by=by))
    except Exception as error:
        log.info(
            "share_revoked_run_not_signalled", workflow_id=workflow_id, error=type(error).__name__
        )


def _tenant(principal: Any) -> uuid.UUID:
    if principal.tenant_id is None:
        raise file_error(
            FileError.PERMISSION_DENIED, "switch to a tenant first: files are a tenant's"
        )
    return uuid.UUID(principal.tenant_id)


# --- share links: the link is the credential ---------------------------------------------------


async def link_ref(token: str, resources: ResourcesDep) -> LinkRef:
    """The share a link names, checked first (a dependency: before the body is looked at), so
    a link that does not verify is a 401 whatever else the request carries."""
    return LinkSigner.for_settings(resources.settings).parse(token)


Link = Annotated[LinkRef, Depends(link_ref)]


async def _open(
    resources: Any, database: Any, ref: LinkRef, password: str | None
) -> tuple[FileShare, FileRecord]:
    async with transaction(database, ref.tenant_id) as db:
        share = await ShareRepository(db, ref.tenant_id).one(ref.share_id)
        row = await FileRepository(db, ref.tenant_id).visible(share.file_id) if share else None
    if share is None or share.kind != ShareKind.LINK.value:
        raise file_error(FileError.FILE_NOT_FOUND, "no such share")
    status = _live_status(share, datetime.now(UTC))
    if status != ShareStatus.ACTIVE.value:
        raise file_error(
            FileError.SHARE_ENDED, f"this share has been {status}", share_status=status
        )
    if row is None:
        raise file_error(FileError.FILE_NOT_FOUND, "the shared file is gone")
    if share.password_hash is not None:
        if password is None:
            raise file_error(FileError.PASSWORD_REQUIRED, "this link asks for a password")
        if not await verify_password(share.password_hash, password):
            raise file_error(FileError.WRONG_PASSWORD, "wrong password")
    elif password is not None:
        await burn_verify_time(password)  # the same time whether or not a password is set
    return share, row


def _shared(share: FileShare, row: FileRecord, token: str) -> SharedFileOut:
    return SharedFileOut(
        share_id=share.id,
        permission=share.permission,
        password_required=share.password_hash is not None,
        expires_at=share.expires_at,
        name=row.name,
        size=row.size,
        content_type=row.content_type,
        status=row.status,
        content_url=f"/shares/links/{token}/content",
    )


Password = Annotated[str | None, Header(alias=PASSWORD_HEADER, max_length=128)]


@router.get("/shares/links/{token}", responses=LINK_REFUSED)
async def open_link(
    token: str, ref: Link, resources: ResourcesDep, database: DatabaseDep, password: Password = None
) -> SharedFileOut:
    """What the link opens: the file's name, size and type, the access, whether a password is
    asked (with one, the answer waits for it: ``X-Share-Password``)."""
    share, row = await _open(resources, database, ref, password)
    return _shared(share, row, token)


@router.get("/shares/links/{token}/content", response_class=Response, responses=LINK_REFUSED)
async def link_content(
    ref: Link,
    request: Request,
    resources: ResourcesDep,
    database: DatabaseDep,
    password: Password = None,
) -> Response:
    """The file's bytes (Range, ETag, the download's safe headers); a password in
    ``X-Share-Password`` (never in the URL)."""
    _, row = await _open(resources, database, ref, password)
    return file_response(request, row, resources.blob_store(row.store), cache="private, no-store")


@router.post("/shares/links/{token}/content", response_class=Response, responses=LINK_REFUSED)
async def link_content_with_password(
    ref: Link, body: LinkPassword, request: Request, resources: ResourcesDep, database: DatabaseDep
) -> Response:
    """The bytes of a password link, the password in the body (a form a browser can post)."""
    _, row = await _open(resources, database, ref, body.password)
    return file_response(request, row, resources.blob_store(row.store), cache="private, no-store")


@router.patch("/shares/links/{token}/name", responses=LINK_REFUSED)
async def rename_through_link(
    token: str, ref: Link, body: LinkRename, resources: ResourcesDep, database: DatabaseDep
) -> SharedFileOut:
    """An edit link renames the file (a download-only link is refused: 403)."""
    share, row = await _open(resources, database, ref, body.password)
    if share.permission != "editor":
        raise file_error(FileError.PERMISSION_DENIED, "this link is download-only")
    try:
        name = check_name(body.name)
    except FileRuleViolation as violation:
        raise from_rule(violation) from None
    require_ready(row)
    async with transaction(database, share.tenant_id) as db:
        current = await ShareRepository(db, share.tenant_id).one(share.id, lock=True)
        if current is None or _live_status(current, datetime.now(UTC)) != ShareStatus.ACTIVE.value:
            raise file_error(FileError.SHARE_ENDED, "this share has ended")
        file = await FileRepository(db, share.tenant_id).visible(row.id)
        if file is None:
            raise file_error(FileError.FILE_NOT_FOUND, "the shared file is gone")
        file.name = name
        await db.flush()
        await db.refresh(file)
    return _shared(current, file, token)
