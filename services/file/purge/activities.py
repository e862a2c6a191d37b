"""The activities of ``file_purge`` (queue ``<prefix>-file``): list the next batch of a tenant's
files soft-deleted before the cutoff, and purge them (docs/files.md, "Purge of soft-deleted
files").

Each runs only in a ``file_purge`` run of the caller's tenant under this run's idempotency key,
or in a run the tenant's own nightly Schedule started (``PurgeActivities._authorised``). Per file, one transaction: the row locked if it is
still soft-deleted before the cutoff (a restored or purged file is skipped), its blob (from the
store the row names) and every thumbnail size's blob deleted (a missing blob is no error), then
its rows. A retry after a crash finds the file either untouched (rolled back: its blobs are
deleted again, which is no error) or gone (skipped)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from structlog.stdlib import get_logger
from temporalio import activity

from services.common.resources import Resources
from services.common.security_context import (
    ActorKind,
    current_context,
    denied,
    require_flow_step,
)
from services.file.processing.placement import delete_renditions
from services.file.purge.schedule import file_purge_schedule_id
from storage.blobs import BlobStoreError
from storage.db import transaction
from storage.files.purge import Due, PurgeRepository
from storage.files.renditions import rendition_key
from workflows.common.errors import business_error
from workflows.file import purge_contracts as contracts
from workflows.file.contracts import FileError, FileWorkflow
from workflows.file.processing_contracts import THUMBNAIL_SIZES
from workflows.file.purge_contracts import PurgedFile, PurgeOutcome

log = get_logger(__name__)
#: Set by the Temporal server on a run a Schedule started (a client cannot set it): the
#: schedule's id.
SCHEDULED_BY = "TemporalScheduledById"


def _tenant(tenant_id: str, key: str) -> uuid.UUID:
    context = require_flow_step(key, FileWorkflow.FILE_PURGE)
    if context.actor != ActorKind.system and context.tenant_id != tenant_id:
        raise denied("a file_purge run acts only on its caller's tenant")
    try:
        return uuid.UUID(tenant_id)
    except ValueError as error:
        raise business_error(FileError.INVALID_INPUT, "invalid tenant id") from error


def _cutoff(text: str) -> datetime:
    try:
        cutoff = datetime.fromisoformat(text)
    except ValueError as error:
        raise business_error(FileError.INVALID_INPUT, "invalid cutoff") from error
    if cutoff.tzinfo is None:
        raise business_error(FileError.INVALID_INPUT, "the cutoff needs a time zone")
    return cutoff


def _file_ids(file_ids: list[str]) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(file_id) for file_id in file_ids]
    except ValueError as error:
        raise business_error(FileError.INVALID_INPUT, "invalid file id") from error


class PurgeActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    async def _authorised(self, tenant_id: str, key: str, cutoff: datetime) -> uuid.UUID:
        """The tenant a step may purge. A run with a security context: ``_tenant``. A run
        without one is the nightly Schedule's (a Schedule's start carries no sealed header):
        accepted only for a ``file_purge`` run the server says the tenant's own schedule
        started, and only with a cutoff no later than the configured retention allows, so a
        forged schedule can purge nothing the policy would not purge anyway."""
        if current_context() is not None:
            return _tenant(tenant_id, key)
        info = activity.info()
        if info.workflow_type != FileWorkflow.FILE_PURGE or not info.workflow_id:
            raise denied("no security context")
        try:
            tenant = uuid.UUID(tenant_id)
        except ValueError as error:
            raise business_error(FileError.INVALID_INPUT, "invalid tenant id") from error
        described = await (
            activity.client()
            .get_workflow_handle(info.workflow_id, run_id=info.workflow_run_id)
            .describe()
        )
        scheduled_by = described.search_attributes.get(SCHEDULED_BY) or []
        if list(scheduled_by) != [file_purge_schedule_id(str(tenant))]:
            raise denied("no security context, and not the tenant's file_purge schedule")
        retention = timedelta(seconds=self.resources.settings.file_purge_retention_seconds)
        if cutoff > datetime.now(UTC) - retention:
            raise denied("a scheduled purge keeps the configured retention")
        return tenant

    @contracts.LIST_PURGE_BATCH.implement
    async def list_purge_batch(
        self, input: contracts.ListPurgeBatchInput
    ) -> contracts.ListPurgeBatchOutput:
        cutoff = _cutoff(input.cutoff)
        tenant_id = await self._authorised(input.tenant_id, input.idempotency_key, cutoff)
        after = _file_ids([input.after])[0] if input.after else None
        limit = max(1, min(input.limit, contracts.MAX_BATCH))
        async with transaction(self.resources.database, tenant_id) as db:
            repository = PurgeRepository(db, tenant_id)
            totals = await repository.totals(cutoff, after)
            batch = await repository.next_batch(cutoff, after, limit)
        return contracts.ListPurgeBatchOutput(
            [contracts.PurgeItem(str(row.id), row.size) for row in batch],
            totals.files,
            totals.bytes,
        )

    @contracts.PURGE_FILES.implement
    async def purge_files(self, input: contracts.PurgeFilesInput) -> contracts.PurgeFilesOutput:
        cutoff = _cutoff(input.cutoff)
        tenant_id = await self._authorised(input.tenant_id, input.idempotency_key, cutoff)
        outcomes = [
            await self._purge(tenant_id, file_id, cutoff) for file_id in _file_ids(input.file_ids)
        ]
        log.info(
            "file_purge_batch",
            files=len(outcomes),
            purged=sum(o.status == PurgeOutcome.PURGED for o in outcomes),
        )
        return contracts.PurgeFilesOutput(outcomes)

    async def _purge(
        self, tenant_id: uuid.UUID, file_id: uuid.UUID, cutoff: datetime
    ) -> PurgedFile:
        async with transaction(self.resources.database, tenant_id) as db:
            repository = PurgeRepository(db, tenant_id)
            row = await repository.lock_due(file_id, cutoff)
            if row is None:
                return PurgedFile(str(file_id), PurgeOutcome.SKIPPED)
            await self._delete_blobs(tenant_id, row, await repository.rendition_keys(file_id))
            removed = await repository.remove(file_id, cutoff)
        if not removed:  # not reachable under the lock; said rather than assumed
            return PurgedFile(str(file_id), PurgeOutcome.SKIPPED)
        return PurgedFile(str(file_id), PurgeOutcome.PURGED, row.size)

    async def _delete_blobs(self, tenant_id: uuid.UUID, row: Due, renditions: list[str]) -> None:
        try:
            store = self.resources.blob_store(row.store)
        except BlobStoreError as error:  # the row names a store this process lacks: retried
            raise RuntimeError(str(error)) from error
        await store.delete(row.blob_key)
        # Every size's thumbnail, rowed or not (a processing run may have died between the
        # blob and its row), wherever it may be (services/file/processing/placement.py).
        sizes = {rendition_key(tenant_id, row.id, size) for size in THUMBNAIL_SIZES}
        await delete_renditions(self.resources, row.store, sizes | set(renditions))

    def all(self) -> list[Callable[..., Any]]:
        return [self.list_purge_batch, self.purge_files]
