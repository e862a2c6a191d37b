"""The activities of ``file_processing`` (queue ``<prefix>-file``): process a ready file,
and the compensation that removes what a failed run made.

Each runs only in a ``file_processing`` run of the caller's tenant. The decode runs in a worker
thread (``asyncio.to_thread``; why a thread: ``services/file/processing/render.py``) while
the activity heartbeats, so the worker's event loop stays free and a stuck decode is noticed.
Blobs go under the tenant's prefix, then their rows: a retry overwrites both (idempotent)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable
from typing import Any

from structlog.stdlib import get_logger
from temporalio import activity

from services.common.resources import Resources
from services.common.security_context import ActorKind, denied, require_context, require_flow
from services.file.processing.placement import delete_renditions, rendition_store
from services.file.processing.render import (
    THUMBNAIL_TYPE,
    Refused,
    Rendered,
    Undecodable,
    render,
    renders,
)
from services.file.uploads.intake import MIB
from storage.db import transaction
from storage.files.models import FileRecord, FileStatus
from storage.files.renditions import (
    FileRendition,
    ProcessingStatus,
    RenditionRepository,
    rendition_key,
)
from storage.files.repository import FileRepository
from workflows.common.errors import business_error
from workflows.file import processing_contracts as contracts
from workflows.file.contracts import FileError, FileWorkflow

log = get_logger(__name__)
HEARTBEAT_SECONDS = 5.0


def _ids(tenant_id: str, file_id: str) -> tuple[uuid.UUID, uuid.UUID]:
    context = require_context()
    require_flow(context, FileWorkflow.FILE_PROCESSING)
    if context.actor != ActorKind.system and context.tenant_id != tenant_id:
        raise denied("a file_processing run acts only on its caller's tenant")
    try:
        return uuid.UUID(tenant_id), uuid.UUID(file_id)
    except ValueError as error:
        raise business_error(FileError.INVALID_INPUT, "invalid tenant or file id") from error


async def _beating(work: asyncio.Future[Rendered]) -> Rendered:
    while True:
        done, _ = await asyncio.wait({work}, timeout=HEARTBEAT_SECONDS)
        if done:
            return work.result()
        activity.heartbeat("rendering")


class ProcessingActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    async def _ready_row(self, tenant_id: uuid.UUID, file_id: uuid.UUID) -> FileRecord:
        async with transaction(self.resources.database, tenant_id) as db:
            row = await FileRepository(db, tenant_id).visible(file_id)
        if row is None or row.status != FileStatus.READY.value:
            raise business_error(FileError.FILE_NOT_READY, "only a ready file is processed")
        return row

    async def _record(
        self, tenant_id: uuid.UUID, file_id: uuid.UUID, status: ProcessingStatus, detail: str
    ) -> contracts.ProcessFileOutput:
        async with transaction(self.resources.database, tenant_id) as db:
            await RenditionRepository(db, tenant_id).record(file_id, status, detail=detail[:255])
        log.info("file_processing_outcome", file_id=str(file_id), status=status.value)
        return contracts.ProcessFileOutput(status.value, detail[:255])

    @contracts.PROCESS_FILE.implement
    async def process_file(self, input: contracts.ProcessStepInput) -> contracts.ProcessFileOutput:
        tenant_id, file_id = _ids(input.tenant_id, input.file_id)
        row = await self._ready_row(tenant_id, file_id)
        settings = self.resources.settings
        if not renders(row.content_type):
            return await self._record(
                tenant_id, file_id, ProcessingStatus.SKIPPED, f"no thumbnails of {row.content_type}"
            )
        if row.size > settings.file_processing_max_mib * MIB:
            return await self._record(
                tenant_id,
                file_id,
                ProcessingStatus.REJECTED,
                f"larger than {settings.file_processing_max_mib} MiB",
            )
        data = await self.resources.blob_store(row.store).get(row.blob_key)
        work = asyncio.ensure_future(
            asyncio.to_thread(
                render,
                data,
                row.content_type,
                contracts.THUMBNAIL_SIZES,
                settings.file_processing_max_pixels,
            )
        )
        try:
            rendered = await _beating(work)
        except Refused as refusal:
            return await self._record(tenant_id, file_id, ProcessingStatus.REJECTED, str(refusal))
        except Undecodable as failure:
            return await self._record(tenant_id, file_id, ProcessingStatus.FAILED, str(failure))
        thumbnails = rendition_store(self.resources, row.store)
        for thumbnail in rendered.thumbnails:
            await thumbnails.put(rendition_key(tenant_id, file_id, thumbnail.size), thumbnail.data)
        async with transaction(self.resources.database, tenant_id) as db:
            repository = RenditionRepository(db, tenant_id)
            for thumbnail in rendered.thumbnails:
                await repository.add(
                    FileRendition(
                        file_id=file_id,
                        size=thumbnail.size,
                        width=thumbnail.width,
                        height=thumbnail.height,
                        content_type=THUMBNAIL_TYPE,
                        blob_key=rendition_key(tenant_id, file_id, thumbnail.size),
                        sha256=hashlib.sha256(thumbnail.data).hexdigest(),
                    )
                )
            await repository.record(
                file_id,
                ProcessingStatus.DONE,
                detail=None,
                width=rendered.width,
                height=rendered.height,
                page_count=rendered.page_count,
            )
        return contracts.ProcessFileOutput(
            ProcessingStatus.DONE.value,
            None,
            rendered.width,
            rendered.height,
            rendered.page_count,
            [t.size for t in rendered.thumbnails],
        )

    @contracts.REMOVE_RENDITIONS.implement
    async def remove_renditions(
        self, input: contracts.RemoveRenditionsInput
    ) -> contracts.RemoveRenditionsOutput:
        tenant_id, file_id = _ids(input.tenant_id, input.file_id)
        # Every size's blob, rowed or not (a run may have died between blob and row).
        async with transaction(self.resources.database, tenant_id) as db:
            row = await FileRepository(db, tenant_id).get(file_id)
        sizes = {rendition_key(tenant_id, file_id, size) for size in contracts.THUMBNAIL_SIZES}
        await delete_renditions(self.resources, row.store if row else None, sizes)
        async with transaction(self.resources.database, tenant_id) as db:
            repository = RenditionRepository(db, tenant_id)
            removed = len(await repository.of_file(file_id))
            await repository.remove(file_id)
            await repository.record(file_id, ProcessingStatus.FAILED, detail=input.reason[:255])
        return contracts.RemoveRenditionsOutput(removed)

    def all(self) -> list[Callable[..., Any]]:
        return [self.process_file, self.remove_renditions]
