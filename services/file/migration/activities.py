"""The activities of ``file_migration`` (queue ``<prefix>-file``): list a batch of the source
store's files, move them (copy, verify, switch, then drop the source copies), and the
compensation that removes unswitched copies from the target.

Each runs only in a ``file_migration`` run of the caller's tenant, under this run's idempotency
key. Every step is idempotent: a copy overwrites the same key, a switch is conditional on the
row still pointing at the source, deleting a missing blob is no error. ``migrate_files``
heartbeats the outcomes so far (the position in the batch) while it streams, so a retry after a
killed worker starts after the last reported file, and a file switched after that report is
found switched in its row and not copied again."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from typing import Any

from structlog.stdlib import get_logger
from temporalio import activity

from services.common.resources import Resources
from services.common.security_context import ActorKind, denied, require_flow_step
from services.file.processing.placement import read_rendition
from storage.blobs import BlobNotFoundError, BlobStore, BlobStoreError, hash_chunk
from storage.db import transaction
from storage.files.renditions import FileRendition, RenditionRepository
from storage.files.store_moves import Movable, StoreMoveRepository
from workflows.common.errors import business_error
from workflows.file import migration_contracts as contracts
from workflows.file.contracts import FileError, FileWorkflow
from workflows.file.migration_contracts import FileOutcome, MigrationOutcome

log = get_logger(__name__)
#: Heartbeats while a copy is in flight (an S3 PutObject of a buffered part consumes no chunks
#: for a while); the SDK sends them on at its own pace within the heartbeat timeout.
HEARTBEAT_SECONDS = 2.0


class Stores:
    """The run's two stores, and whether the source is the process's default (rows with no
    ``store`` are the default's)."""

    def __init__(self, resources: Resources, source: str, target: str) -> None:
        if source == target or not {source, target} <= set(contracts.STORE_NAMES):
            raise business_error(FileError.INVALID_INPUT, "two different known stores")
        try:
            self.source, self.target = resources.blob_store(source), resources.blob_store(target)
        except BlobStoreError as error:
            raise business_error(FileError.INVALID_INPUT, str(error)) from error
        self.source_name, self.target_name = source, target
        self.source_is_default = source == resources.settings.blob_backend


def _tenant(tenant_id: str, key: str) -> uuid.UUID:
    context = require_flow_step(key, FileWorkflow.FILE_MIGRATION)
    if context.actor != ActorKind.system and context.tenant_id != tenant_id:
        raise denied("a file_migration run acts only on its caller's tenant")
    try:
        return uuid.UUID(tenant_id)
    except ValueError as error:
        raise business_error(FileError.INVALID_INPUT, "invalid tenant id") from error


def _file_ids(file_ids: list[str]) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(file_id) for file_id in file_ids]
    except ValueError as error:
        raise business_error(FileError.INVALID_INPUT, "invalid file id") from error


def _resumed() -> list[FileOutcome]:
    """The outcomes the previous attempt of this batch reported in its last heartbeat."""
    details = activity.info().heartbeat_details
    if not details or not isinstance(details[0], dict):
        return []
    return [FileOutcome(**outcome) for outcome in details[0].get("outcomes", [])]


class MigrationActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    @contracts.LIST_MIGRATION_BATCH.implement
    async def list_migration_batch(
        self, input: contracts.ListMigrationBatchInput
    ) -> contracts.ListMigrationBatchOutput:
        tenant_id = _tenant(input.tenant_id, input.idempotency_key)
        stores = Stores(self.resources, input.source, input.target)
        after = _file_ids([input.after])[0] if input.after else None
        limit = max(1, min(input.limit, contracts.MAX_BATCH))
        async with transaction(self.resources.database, tenant_id) as db:
            repository = StoreMoveRepository(db, tenant_id)
            default = stores.source_is_default
            held = await repository.holding(input.source, is_default=default, after=after)
            batch = await repository.next_batch(
                input.source, is_default=default, after=after, limit=limit
            )
            in_progress = await repository.uploads_in_progress() if after is None else 0
        return contracts.ListMigrationBatchOutput(
            [contracts.MigrationItem(str(row.id), row.size) for row in batch],
            held.files,
            held.bytes,
            in_progress,
        )

    @contracts.MIGRATE_FILES.implement
    async def migrate_files(
        self, input: contracts.MigrateFilesInput
    ) -> contracts.MigrateFilesOutput:
        tenant_id = _tenant(input.tenant_id, input.idempotency_key)
        stores = Stores(self.resources, input.source, input.target)
        outcomes = _resumed()
        reported = {outcome.file_id for outcome in outcomes}
        copied = 0

        def beat() -> None:
            activity.heartbeat({"outcomes": [asdict(outcome) for outcome in outcomes]})

        beating = asyncio.create_task(_every(HEARTBEAT_SECONDS, beat))
        try:
            for file_id in _file_ids(input.file_ids):
                if str(file_id) in reported:
                    continue
                outcome, sent = await self._move(tenant_id, file_id, stores, beat)
                copied += sent
                outcomes.append(outcome)
                beat()
            await self._drop_sources(tenant_id, stores, outcomes)
        finally:
            beating.cancel()
        log.info(
            "file_migration_batch",
            files=len(outcomes),
            copied=copied,
            failed=sum(o.status == MigrationOutcome.FAILED for o in outcomes),
        )
        return contracts.MigrateFilesOutput(outcomes, copied)

    async def _row(
        self, tenant_id: uuid.UUID, file_id: uuid.UUID, store: str, *, is_default: bool
    ) -> Movable | None:
        async with transaction(self.resources.database, tenant_id) as db:
            return await StoreMoveRepository(db, tenant_id).movable(
                file_id, store, is_default=is_default
            )

    async def _move(
        self, tenant_id: uuid.UUID, file_id: uuid.UUID, stores: Stores, beat: Callable[[], None]
    ) -> tuple[FileOutcome, int]:
        """One file: (its outcome, 1 if its bytes were sent to the target)."""
        row = await self._row(
            tenant_id, file_id, stores.source_name, is_default=stores.source_is_default
        )
        if row is None:
            switched = await self._row(tenant_id, file_id, stores.target_name, is_default=False)
            if switched is not None:  # switched by an earlier attempt after its last heartbeat
                return FileOutcome(str(file_id), MigrationOutcome.MOVED, switched.size), 0
            return FileOutcome(str(file_id), MigrationOutcome.SKIPPED), 0
        try:
            await stores.target.put_stream(
                row.blob_key, _beating(stores.source, row.blob_key, beat)
            )
        except BlobNotFoundError:
            return _failed(row, "the blob is missing from the source store"), 0
        sha256, size = await _digest(stores.target, row.blob_key, beat)
        if (sha256, size) != (row.sha256, row.size):
            await stores.target.delete(row.blob_key)
            log.warning("file_migration_checksum_mismatch", file_id=str(file_id))
            return _failed(row, "the copy does not match the file's SHA-256"), 1
        if not await self._copy_renditions(tenant_id, file_id, stores):
            await stores.target.delete(row.blob_key)
            return _failed(row, "a thumbnail's copy does not match its SHA-256"), 1
        async with transaction(self.resources.database, tenant_id) as db:
            switched_now = await StoreMoveRepository(db, tenant_id).switch(
                row,
                stores.source_name,
                stores.target_name,
                source_is_default=stores.source_is_default,
            )
        if not switched_now:  # changed meanwhile: the row still names its store; drop the copy
            await stores.target.delete(row.blob_key)
            await self._clean_renditions(tenant_id, [file_id], stores)
            return FileOutcome(str(file_id), MigrationOutcome.SKIPPED), 1
        return FileOutcome(str(file_id), MigrationOutcome.MOVED, row.size), 1

    async def _renditions(
        self, tenant_id: uuid.UUID, file_ids: list[uuid.UUID]
    ) -> list[FileRendition]:
        async with transaction(self.resources.database, tenant_id) as db:
            _, by_file = await RenditionRepository(db, tenant_id).of_files(file_ids)
        return [rendition for file_id in file_ids for rendition in by_file.get(file_id, [])]

    async def _copy_renditions(
        self, tenant_id: uuid.UUID, file_id: uuid.UUID, stores: Stores
    ) -> bool:
        """The file's thumbnails copied to the target and read back against their SHA-256
        before the row switches (they are read from the store the row names); False if a copy
        does not match (the copies made are removed). A thumbnail no store has is left out."""
        copied: list[str] = []
        for rendition in await self._renditions(tenant_id, [file_id]):
            data = await read_rendition(self.resources, stores.source_name, rendition.blob_key)
            if data is None:
                log.warning("file_migration_thumbnail_missing", file_id=str(file_id))
                continue
            await stores.target.put(rendition.blob_key, data)
            copied.append(rendition.blob_key)
            back = await stores.target.get(rendition.blob_key)
            if hashlib.sha256(back).hexdigest() != rendition.sha256:
                for key in copied:
                    await stores.target.delete(key)
                return False
        return True

    async def _clean_renditions(
        self, tenant_id: uuid.UUID, file_ids: list[uuid.UUID], stores: Stores
    ) -> None:
        """Unswitched files' thumbnail copies out of the target, where the source still has
        them (a thumbnail made before thumbnails moved with their files may live in the
        default store, which may be the target: that one is the only copy, and stays)."""
        for rendition in await self._renditions(tenant_id, file_ids):
            if await stores.source.exists(rendition.blob_key):
                await stores.target.delete(rendition.blob_key)

    async def _drop_sources(
        self, tenant_id: uuid.UUID, stores: Stores, outcomes: list[FileOutcome]
    ) -> None:
        """The source copies of the batch's moved files, once all are switched (a download
        that read its row just before the switch still finds its bytes meanwhile)."""
        moved = [uuid.UUID(o.file_id) for o in outcomes if o.status == MigrationOutcome.MOVED]
        async with transaction(self.resources.database, tenant_id) as db:
            keys = await StoreMoveRepository(db, tenant_id).keys_in(
                moved, stores.target_name, is_default=False
            )
        for key in keys:
            await stores.source.delete(key)
        for rendition in await self._renditions(tenant_id, moved):
            await stores.source.delete(rendition.blob_key)

    @contracts.CLEAN_MIGRATION_TARGET.implement
    async def clean_migration_target(
        self, input: contracts.CleanMigrationTargetInput
    ) -> contracts.CleanMigrationTargetOutput:
        tenant_id = _tenant(input.tenant_id, input.idempotency_key)
        stores = Stores(self.resources, input.source, input.target)
        async with transaction(self.resources.database, tenant_id) as db:
            held = await StoreMoveRepository(db, tenant_id).held_in(
                _file_ids(input.file_ids),
                stores.source_name,
                is_default=stores.source_is_default,
            )
        removed = 0
        for _, key in held:  # rows still at the source: any target copy of theirs is unswitched
            if await stores.target.exists(key):
                await stores.target.delete(key)
                removed += 1
        await self._clean_renditions(tenant_id, [file_id for file_id, _ in held], stores)
        log.info("file_migration_compensated", removed=removed)
        return contracts.CleanMigrationTargetOutput(removed)

    def all(self) -> list[Callable[..., Any]]:
        return [self.list_migration_batch, self.migrate_files, self.clean_migration_target]


def _failed(row: Movable, reason: str) -> FileOutcome:
    return FileOutcome(str(row.id), MigrationOutcome.FAILED, 0, reason)


async def _every(seconds: float, beat: Callable[[], None]) -> None:
    while True:
        beat()
        await asyncio.sleep(seconds)


async def _beating(store: BlobStore, key: str, beat: Callable[[], None]) -> AsyncIterator[bytes]:
    """The blob's chunks, heartbeating as they go (the SDK throttles the calls)."""
    async for chunk in store.stream(key):
        beat()
        yield chunk


async def _digest(store: BlobStore, key: str, beat: Callable[[], None]) -> tuple[str, int]:
    """SHA-256 and size of the blob as the store gives it back."""
    hasher, size = hashlib.sha256(), 0
    async for chunk in _beating(store, key, beat):
        await hash_chunk(hasher, chunk)
        size += len(chunk)
    return hasher.hexdigest(), size
