"""Contracts of ``file_migration`` (queue ``<prefix>-file``): a tenant's file blobs moved from one
blob store to another, batch by batch, each copy checked against the file row's SHA-256 before
the row points at it; the compensation removes what a stopped run copied but did not switch."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from temporalio.common import RetryPolicy

from workflows.common.contracts import ActivityContract
from workflows.file.tenant_storage_contracts import FILE

#: The stores a row may name (``ADX_BLOB_BACKEND``'s values).
STORE_NAMES: Final = ("local", "s3")
MAX_BATCH: Final = 500


class MigrationOutcome:
    """What happened to one file (``FileOutcome.status``)."""

    #: Copied, verified and switched (or found switched by an earlier attempt).
    MOVED: Final = "moved"
    #: Left where it was, its row unchanged: the copy did not verify, the source blob is gone.
    FAILED: Final = "failed"
    #: Changed or removed meanwhile (no longer in the source store): nothing to do.
    SKIPPED: Final = "skipped"


@dataclass
class MigrationItem:
    file_id: str
    size: int


@dataclass
class ListMigrationBatchInput:
    tenant_id: str
    source: str
    target: str
    #: The last file id of the previous batch (files go in id order); None: from the start.
    after: str | None
    limit: int
    idempotency_key: str


@dataclass
class ListMigrationBatchOutput:
    items: list[MigrationItem] = field(default_factory=list)
    #: The source's movable files and bytes from ``after`` on, this batch included.
    remaining_files: int = 0
    remaining_bytes: int = 0
    #: Uploads not yet ready (validating, scanning, bytes still arriving: tus partial uploads
    #: too): not moved, they stay in the store they land in (the default one).
    uploads_in_progress: int = 0


#: Read only: the next batch of the source store's ready and quarantined files.
LIST_MIGRATION_BATCH = ActivityContract(
    "file.list_migration_batch", FILE, ListMigrationBatchInput, ListMigrationBatchOutput
)


@dataclass
class MigrateFilesInput:
    tenant_id: str
    source: str
    target: str
    file_ids: list[str]
    idempotency_key: str


@dataclass
class FileOutcome:
    file_id: str
    #: ``MigrationOutcome``.
    status: str
    bytes: int = 0
    #: Why a file failed (safe text: no names, no content).
    reason: str | None = None


@dataclass
class MigrateFilesOutput:
    outcomes: list[FileOutcome] = field(default_factory=list)
    #: Copies whose bytes this attempt sent to the target (a resumed batch sends fewer).
    copied: int = 0


#: Per file: stream the blob to the target, read it back and hash it, compare with the row's
#: SHA-256, switch the row (only if it still points at the source), and, once the batch is
#: done, delete the source copies. Heartbeats carry the outcomes so far, so a retry after a
#: killed worker resumes after the last reported file; a file switched since its last report
#: is found switched in the row and not copied again.
MIGRATE_FILES = ActivityContract(
    "file.migrate_files",
    FILE,
    MigrateFilesInput,
    MigrateFilesOutput,
    start_to_close=timedelta(hours=2),
    heartbeat=timedelta(seconds=10),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=6,
    ),
)


@dataclass
class CleanMigrationTargetInput:
    tenant_id: str
    source: str
    target: str
    file_ids: list[str]
    idempotency_key: str


@dataclass
class CleanMigrationTargetOutput:
    removed: int


#: Compensation: the target's copies of the files whose rows still point at the source (a
#: copy made but not switched) deleted; every file stays readable where its row points.
CLEAN_MIGRATION_TARGET = ActivityContract(
    "file.clean_migration_target",
    FILE,
    CleanMigrationTargetInput,
    CleanMigrationTargetOutput,
    start_to_close=timedelta(minutes=10),
)
