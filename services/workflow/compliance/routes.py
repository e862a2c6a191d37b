"""The GDPR routes of the workflow service (docs/workflows.md, "GDPR procedures"). Every route
acts for the caller themself (their verified access token): nobody can export, erase, cancel or
decide for another person, whatever they hold in any tenant.

- ``POST /compliance/exports``: start ``gdpr_export``; the link arrives by mail (a few per
  person per window: ``limits.py``);
- ``GET /compliance/exports/{export_id}/archive?exp=&kid=&sig=``: the archive, for the signed
  link (its credential; no token);
- ``POST /compliance/erasures`` ``{confirm: true}``: start ``gdpr_erasure`` (or join the one
  running); ``GET /compliance/erasures/current``: its state (what it waits for);
  ``POST /compliance/erasures/cancel``; ``POST /compliance/erasures/decisions``: per tenant the
  caller alone owns, a new owner or its deletion;
- ``POST /compliance/receipts/verify``: whether a receipt's signature is ours (no token: the
  erased person has no account any more)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from services.common.app import ResourcesDep
from services.common.errors import (
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    UnauthorizedError,
)
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.resources import Resources
from services.common.settings import ServiceName
from services.common.tokens import Principal
from services.workflow.compliance.limits import admit_export
from services.workflow.compliance.signing import ExportLink, ExportLinkSigner, ReceiptSigner
from services.workflow.compliance.starts import erasure_workflow_id, start_erasure, start_export
from services.workflow.runs import audit
from services.workflow.schemas import (
    ComplianceStarted,
    ErasureCancel,
    ErasureCancelled,
    ErasureDecided,
    ErasureDecisions,
    ErasureRequest,
    ErasureStatus,
    ReceiptCheck,
    ReceiptVerdict,
)
from storage.blobs import BlobNotFoundError
from workflows.common.compliance import export_archive_key
from workflows.compliance.contracts import (
    CANCEL_ERASURE,
    DECIDE_TENANTS,
    ERASURE_STATE_QUERY,
    CancelErasureInput,
    DecideTenantsInput,
    DecideTenantsOutput,
    ErasureState,
    TenantDecision,
)

router = APIRouter(prefix="/compliance", tags=["compliance"])
_EXPORT_ID = r"^[a-f0-9]{24}$"
_EXPORT_ID_SHAPE = re.compile(_EXPORT_ID)
_SIG = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


class LinkGoneError(DomainError):
    status = 410
    type = "https://adx.dev/problems/gone"
    title = "Gone"


class LinkDeniedError(DomainError):
    status = 403
    type = "https://adx.dev/problems/forbidden"
    title = "Forbidden"


def _queue(resources: Resources) -> str:
    return resources.settings.task_queue(ServiceName.workflow)


@router.post(
    "/exports",
    status_code=202,
    responses={429: problem_response(429, "Too many export requests (Retry-After)")},
)
async def request_export(principal: PrincipalDep, resources: ResourcesDep) -> ComplianceStarted:
    await admit_export(resources, principal.user_id)
    handle = await start_export(
        resources.temporal, resources.settings, principal, task_queue=_queue(resources)
    )
    await _audit(resources, principal, "gdpr_export", handle)
    return ComplianceStarted(workflow_id=handle.id, run_id=handle.result_run_id or "")


@router.get(
    "/exports/{export_id}/archive",
    responses={
        401: problem_response(401, "Not a signed link (exp, kid or sig missing)"),
        403: problem_response(403, "The link does not verify (tampered, another export)"),
        410: problem_response(410, "The link has expired, or the export is gone"),
    },
)
async def download_export(
    resources: ResourcesDep,
    export_id: Annotated[str, Path(max_length=64)],
    exp: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    kid: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    sig: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> StreamingResponse:
    """No token: the signed link is the credential; a link without one is refused as any
    anonymous caller is (401)."""
    if exp is None or kid is None or sig is None:
        raise UnauthorizedError("an export link carries exp, kid and sig")
    if not _EXPORT_ID_SHAPE.match(export_id) or not _SIG.match(sig) or not _SIG.match(kid):
        raise LinkDeniedError("this link is not valid")
    verdict = ExportLinkSigner.for_settings(resources.settings).check(
        ExportLink(export_id, exp), kid, sig
    )
    if verdict == "invalid":
        raise LinkDeniedError("this link is not valid")
    if verdict == "expired":
        raise LinkGoneError("this link has expired; ask for a new export")
    key = export_archive_key(export_id)
    if not await resources.blobs.exists(key):
        raise LinkGoneError("this export is no longer available")
    stream = resources.blobs.stream(key)
    try:
        first = await stream.__anext__()
    except (BlobNotFoundError, StopAsyncIteration):
        raise LinkGoneError("this export is no longer available") from None

    async def body():  # type: ignore[no-untyped-def]
        yield first
        async for chunk in stream:
            yield chunk

    return StreamingResponse(
        body(),
        media_type="application/zip",
        headers={
            "content-disposition": f'attachment; filename="adx-export-{export_id}.zip"',
            "cache-control": "no-store",
        },
    )


@router.post("/erasures", status_code=202)
async def request_erasure(
    body: ErasureRequest, principal: PrincipalDep, resources: ResourcesDep
) -> ComplianceStarted:
    if not body.confirm:
        raise InvalidInputError("an erasure must be confirmed")
    handle = await start_erasure(
        resources.temporal, resources.settings, principal, task_queue=_queue(resources)
    )
    await _audit(resources, principal, "gdpr_erasure", handle)
    return ComplianceStarted(workflow_id=handle.id, run_id=handle.result_run_id or "")


async def _running_erasure(resources: Resources, principal: Principal) -> WorkflowHandle:  # type: ignore[type-arg]
    workflow_id = erasure_workflow_id(resources.settings, principal.user_id)
    handle = resources.temporal.get_workflow_handle(workflow_id)
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise NotFoundError("no erasure is running for you") from None
        raise
    if description.status != WorkflowExecutionStatus.RUNNING:
        raise NotFoundError("no erasure is running for you")
    return handle


@router.get("/erasures/current")
async def erasure_status(principal: PrincipalDep, resources: ResourcesDep) -> ErasureStatus:
    handle = await _running_erasure(resources, principal)
    state = await handle.query(ERASURE_STATE_QUERY, result_type=ErasureState)
    return ErasureStatus(
        workflow_id=handle.id,
        phase=state.phase,
        waiting_for_tenants=state.waiting_for_tenants,
        grace_ends_at=state.grace_ends_at,
        cancellable=state.cancellable,
        deleting_tenants=state.deleting_tenants,
    )


@router.post("/erasures/cancel")
async def cancel_erasure(
    body: ErasureCancel, principal: PrincipalDep, resources: ResourcesDep
) -> ErasureCancelled:
    handle = await _running_erasure(resources, principal)
    state = await handle.query(ERASURE_STATE_QUERY, result_type=ErasureState)
    if not state.cancellable:
        raise ConflictError("the erasure is past its point of no return")
    await handle.signal(CANCEL_ERASURE, CancelErasureInput(body.reason))
    await _audit(resources, principal, "gdpr_erasure_cancel", handle)
    return ErasureCancelled(cancelled=True)


@router.post("/erasures/decisions")
async def decide_tenants(
    body: ErasureDecisions, principal: PrincipalDep, resources: ResourcesDep
) -> ErasureDecided:
    handle = await _running_erasure(resources, principal)
    decisions = [
        TenantDecision(
            str(d.tenant_id), str(d.new_owner_id) if d.new_owner_id else "", d.action.value
        )
        for d in body.decisions
    ]
    try:
        answer = await handle.execute_update(
            DECIDE_TENANTS, DecideTenantsInput(decisions), result_type=DecideTenantsOutput
        )
    except WorkflowUpdateFailedError:
        raise ConflictError("the erasure is not waiting for a decision on tenants") from None
    await _audit(resources, principal, "gdpr_erasure_decide", handle)
    return ErasureDecided(waiting=answer.waiting, refused=answer.refused)


@router.post("/receipts/verify")
async def verify_receipt(body: ReceiptCheck, resources: ResourcesDep) -> ReceiptVerdict:
    signer = ReceiptSigner.for_settings(resources.settings)
    return ReceiptVerdict(valid=signer.valid(body.key_id, body.receipt, body.signature))


async def _audit(
    resources: Resources,
    principal: Principal,
    action: str,
    handle: WorkflowHandle,  # type: ignore[type-arg]
) -> None:
    # Run-management's audit stream; the erasure purges the entries that name the person.
    await audit.record(
        resources,
        principal,
        action,
        workflow_id=handle.id,
        run_id=getattr(handle, "result_run_id", None) or handle.run_id or "",
        reason=None,
    )
