"""Contracts of ``file_processing`` (queue ``<prefix>-file``): thumbnails and metadata of a
ready file, and the compensation that removes what a failed run made."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from temporalio.common import RetryPolicy

from workflows.common.contracts import ActivityContract
from workflows.file.tenant_storage_contracts import FILE

#: The boxes (longest side, px) every thumbnail is made at, WebP.
THUMBNAIL_SIZES: Final = (128, 512)


@dataclass
class ProcessStepInput:
    tenant_id: str
    file_id: str
    idempotency_key: str


@dataclass
class ProcessFileOutput:
    #: ``storage.files.renditions.ProcessingStatus``: done, skipped, rejected or failed.
    status: str
    detail: str | None = None
    width: int | None = None
    height: int | None = None
    page_count: int | None = None
    #: The sizes made (``THUMBNAIL_SIZES`` for a rendered file, none otherwise).
    sizes: list[int] = field(default_factory=list)


#: Decodes the file off the event loop (a worker thread), heartbeating while it does; a
#: refusal (bomb, size cap) or an undecodable file is an answer, not a failure.
PROCESS_FILE = ActivityContract(
    "file.process_file",
    FILE,
    ProcessStepInput,
    ProcessFileOutput,
    start_to_close=timedelta(minutes=5),
    heartbeat=timedelta(seconds=20),
    retry_policy=RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1)),
)


@dataclass
class RemoveRenditionsInput:
    tenant_id: str
    file_id: str
    #: Recorded as the failed run's reason (safe text).
    reason: str
    idempotency_key: str


@dataclass
class RemoveRenditionsOutput:
    removed: int


#: Compensation: every thumbnail blob and row of the file removed, the outcome ``failed``.
REMOVE_RENDITIONS = ActivityContract(
    "file.remove_renditions", FILE, RemoveRenditionsInput, RemoveRenditionsOutput
)
