"""Taking in an upload's bytes (direct or tus) and handing them to ``file_upload``.

The bytes stream into the blob store chunk by chunk (never the whole body in memory), hashed
while written; the store's ``put_stream`` is all or nothing (a temp file renamed into place
locally, an S3 multipart upload aborted on failure), so a cancelled or refused upload leaves
no blob. The row is inserted only once the blob is complete, and removed again with the blob if
the run cannot be started: no row without its bytes, no bytes without a row.

This module opens its own short transactions instead of the request's ``TenantDb``: the quota
is read before the body arrives and the row must be committed *before* the run starts (its first
activity reads it), and no database connection is held while a client sends megabytes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

import magic
from structlog.stdlib import get_logger

from services.common import workflow_calls
from services.common.errors import ConflictError
from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName
from services.common.tokens import Principal
from services.file.access import user_id
from services.file.errors import file_error
from services.file.uploads.planned import PlannedUpload
from storage.blobs import DEFAULT_CHUNK_SIZE, BlobInfo
from storage.db import transaction
from storage.files.models import FileRecord, FileStatus, ScanVerdict
from storage.files.repository import (
    FileRepository,
    StoragePolicyRepository,
    UploadReservationRepository,
)
from workflows.file.contracts import FileError
from workflows.file.file_upload import (
    FileUploadInput,
    FileUploadWorkflow,
    UploadBytes,
    file_upload_workflow_id,
)
from workflows.tenant.plans import PLANS, Plan

log = get_logger(__name__)
MIB = 1024 * 1024
#: Bytes libmagic looks at (enough for every format it knows by its header).
SNIFF_BYTES = 8192
#: The runs of bytes handed to the blob store (its own read size; ``storage.blobs``).
WRITE_CHUNK = DEFAULT_CHUNK_SIZE
#: An upload of undeclared length reserves ahead of its bytes by this much at a time.
RESERVE_STEP = 4 * MIB


def blob_key(tenant_id: uuid.UUID, file_id: uuid.UUID, version: int = 1) -> str:
    return f"tenants/{tenant_id}/files/{file_id}/v{version}"


async def room_left(resources: Resources, tenant_id: uuid.UUID) -> tuple[int, int]:
    """(quota, bytes left under it): the tenant's policy, else the free plan's quota
    (``workflows/tenant/plans.py``)."""
    async with transaction(resources.database, tenant_id) as db:
        policy = await StoragePolicyRepository(db, tenant_id).current()
        used = await FileRepository(db, tenant_id).used_bytes()
    quota = policy.quota_bytes if policy else PLANS[Plan.FREE].storage_quota_bytes
    return quota, max(0, quota - used)


def check_declared(declared: int | None, *, limit: int, room: int) -> None:
    """Refuse a declared length over the size limit or the room left, before any byte."""
    if declared is None:
        return
    if declared > limit:
        raise file_error(FileError.TOO_LARGE, f"the limit here is {limit} bytes", limit=limit)
    if declared > room:
        raise file_error(
            FileError.QUOTA_EXCEEDED, "the upload would exceed the tenant's storage quota"
        )


@dataclass
class Reservation:
    """The bytes an upload holds against its tenant's quota until its row is inserted (which
    removes the hold in the same transaction) or it ends otherwise (``release``). Two uploads
    that together exceed the quota cannot both hold their bytes: the hold is taken under the
    policy row's lock (``UploadReservationRepository.reserve``)."""

    resources: Resources
    tenant_id: uuid.UUID
    upload_id: uuid.UUID
    limit: int
    held: int = 0

    async def hold(self, total: int) -> bool:
        quota = PLANS[Plan.FREE].storage_quota_bytes
        async with transaction(self.resources.database, self.tenant_id) as db:
            repository = UploadReservationRepository(db, self.tenant_id)
            taken = await repository.reserve(self.upload_id, total, default_quota=quota)
        if taken:
            self.held = total
        return taken

    async def declared(self, declared: int) -> None:
        """Hold an upload's declared length before any byte; 413 past the room."""
        if not await self.hold(declared):
            raise file_error(
                FileError.QUOTA_EXCEEDED, "the upload would exceed the tenant's storage quota"
            )

    async def cover(self, total: int) -> None:
        """Hold at least ``total`` bytes of an upload of undeclared length, ahead by
        ``RESERVE_STEP`` (one transaction per step, not per chunk); 413 past the room."""
        if total <= self.held:
            return
        ahead = min(self.limit, max(total, self.held + RESERVE_STEP))
        if await self.hold(ahead) or (ahead > total and await self.hold(total)):
            return
        raise file_error(FileError.QUOTA_EXCEEDED, "the upload exceeds the tenant's storage quota")

    async def release(self) -> None:
        async with transaction(self.resources.database, self.tenant_id) as db:
            await UploadReservationRepository(db, self.tenant_id).release(self.upload_id)
        self.held = 0


@dataclass
class Sniffer:
    """Keeps the first bytes of a stream for type detection."""

    head: bytes = b""

    def take(self, chunk: bytes) -> None:
        if len(self.head) < SNIFF_BYTES:
            self.head += chunk[: SNIFF_BYTES - len(self.head)]

    async def content_type(self) -> str:
        if not self.head:
            return "application/x-empty"
        detected = await asyncio.to_thread(magic.from_buffer, self.head, mime=True)
        return str(detected or "application/octet-stream")[:255]


async def bounded(
    chunks: AsyncIterable[bytes],
    sniffer: Sniffer,
    *,
    limit: int,
    room: int,
    reservation: Reservation | None = None,
) -> AsyncIterator[bytes]:
    """``chunks`` passed on while their running total stays under the size limit and the
    quota's room (and, given a ``reservation``, within what it can hold); past either the
    stream raises (the store then keeps nothing). The server hands a body over in pieces of
    tens of KiB: they go on in ``WRITE_CHUNK`` runs, so the store writes and hashes (a thread
    hop each) once a MiB, not once a piece."""
    total = 0
    pending = bytearray()
    async for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise file_error(FileError.TOO_LARGE, f"the limit here is {limit} bytes", limit=limit)
        if total > room:
            raise file_error(
                FileError.QUOTA_EXCEEDED, "the upload exceeds the tenant's storage quota"
            )
        if reservation is not None:
            await reservation.cover(total)
        sniffer.take(chunk)
        pending += chunk
        if len(pending) >= WRITE_CHUNK:
            yield bytes(pending)
            pending.clear()
    if pending:
        yield bytes(pending)


@dataclass(frozen=True)
class Incoming:
    tenant_id: uuid.UUID
    file_id: uuid.UUID
    name: str
    folder: str
    key: str


async def register(
    resources: Resources,
    principal: Principal,
    incoming: Incoming,
    stored: BlobInfo,
    sniffer: Sniffer,
    plan: PlannedUpload | None = None,
) -> FileRecord:
    """The row of a stored blob (status ``uploading``), committed, then its ``file_upload`` run
    started (or, for a ``plan``, the waiting run told the bytes are in); either failing removes
    what was made."""
    store = resources.blobs
    if stored.size == 0:
        await store.delete(incoming.key)
        raise file_error(FileError.INVALID_INPUT, "the file is empty")
    content_type = await sniffer.content_type()
    workflow_id = file_upload_workflow_id(str(incoming.file_id))
    row = FileRecord(
        id=incoming.file_id,
        name=incoming.name,
        folder=incoming.folder,
        blob_key=incoming.key,
        store=resources.settings.blob_backend,
        size=stored.size,
        sha256=stored.sha256,
        content_type=content_type,
        owner_id=user_id(principal),
        status=FileStatus.UPLOADING.value,
        scan_verdict=ScanVerdict.PENDING.value,
        version=1,
        workflow_id=workflow_id,
    )
    try:
        async with transaction(resources.database, incoming.tenant_id) as db:
            await FileRepository(db, incoming.tenant_id).add(row)
            # The row counts from now on: the upload's hold goes in the same transaction.
            await UploadReservationRepository(db, incoming.tenant_id).release(incoming.file_id)
            await db.refresh(row)
    except BaseException:
        await asyncio.shield(store.delete(incoming.key))
        raise
    try:
        if plan is not None:
            # The run waits since the plan: the bytes are in, it may go on.
            await plan.announce(principal, UploadBytes(stored.size, stored.size, stored=True))
        else:
            with acting_as(SecurityContext.for_principal(principal)):
                await workflow_calls.start(
                    resources.temporal,
                    FileUploadWorkflow.run,
                    FileUploadInput(str(incoming.tenant_id), str(incoming.file_id)),
                    id=workflow_id,
                    task_queue=resources.settings.task_queue(ServiceName.file),
                    errors=workflow_calls.WorkflowErrors(
                        call="file_upload",
                        already_started=lambda: ConflictError("this upload is being processed"),
                    ),
                )
    except BaseException:
        await asyncio.shield(_undo(resources, incoming))
        raise
    if plan is not None:
        await plan.spend()
    log.info(
        "file_upload_started",
        file_id=str(incoming.file_id),
        size=stored.size,
        content_type=content_type,
    )
    return row


async def _undo(resources: Resources, incoming: Incoming) -> None:
    async with transaction(resources.database, incoming.tenant_id) as db:
        row = await FileRepository(db, incoming.tenant_id).get(incoming.file_id)
        if row is not None:
            await db.delete(row)
    await resources.blobs.delete(incoming.key)
