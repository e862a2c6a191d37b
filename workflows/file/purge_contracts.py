"""Contracts of ``file_purge`` (queue ``<prefix>-file``): a tenant's files soft-deleted before a
cutoff removed for good, batch by batch: each file's blob (from the store its row names), its
thumbnails, shares, processing record and upload reservation, then its row. Every step is
conditional on the row still being soft-deleted before the cutoff, so a retry removes nothing
twice and never a restored file: no compensation is needed (docs/files.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from temporalio.common import RetryPolicy

from workflows.common.contracts import ActivityContract
from workflows.file.tenant_storage_contracts import FILE

MAX_BATCH: Final = 500
#: ``ADX_FILE_PURGE_RETENTION_SECONDS``'s bounds (the input may ask for less: tests).
MAX_RETENTION_SECONDS: Final = 10 * 365 * 24 * 3600


class PurgeOutcome:
    """What happened to one file (``PurgedFile.status``)."""

    #: Blob, thumbnails and rows removed.
    PURGED: Final = "purged"
    #: No longer due (restored, or purged by an earlier attempt): nothing removed.
    SKIPPED: Final = "skipped"


@dataclass
class PurgeItem:
    file_id: str
    size: int


@dataclass
class ListPurgeBatchInput:
    tenant_id: str
    #: ISO 8601: files soft-deleted at or before it are due.
    cutoff: str
    #: The last file id of the previous batch (files go in id order); None: from the start.
    after: str | None
    limit: int
    idempotency_key: str


@dataclass
class ListPurgeBatchOutput:
    items: list[PurgeItem] = field(default_factory=list)
    #: The due files and bytes from ``after`` on, this batch included.
    remaining_files: int = 0
    remaining_bytes: int = 0


#: Read only: the next batch of the tenant's files soft-deleted before the cutoff.
LIST_PURGE_BATCH = ActivityContract(
    "file.list_purge_batch", FILE, ListPurgeBatchInput, ListPurgeBatchOutput
)


@dataclass
class PurgeFilesInput:
    tenant_id: str
    cutoff: str
    file_ids: list[str]
    idempotency_key: str


@dataclass
class PurgedFile:
    file_id: str
    #: ``PurgeOutcome``.
    status: str
    bytes: int = 0


@dataclass
class PurgeFilesOutput:
    outcomes: list[PurgedFile] = field(default_factory=list)


#: Per file, under its row's lock: the blob and the thumbnails' blobs deleted (a missing blob
#: is no error), then the rows, in one transaction conditional on ``deleted_at``.
PURGE_FILES = ActivityContract(
    "file.purge_files",
    FILE,
    PurgeFilesInput,
    PurgeFilesOutput,
    start_to_close=timedelta(minutes=30),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=6,
    ),
)
