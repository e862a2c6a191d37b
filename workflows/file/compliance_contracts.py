"""The file service's GDPR activities (queue ``<prefix>-file``): the files a person owns (and
their shares) exported, the archive built from every service's part plus the files' bytes,
and the erasure of the files and their blobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from workflows.common.compliance import (
    ErasePartInput,
    ErasePartOutput,
    ExportPartInput,
    ExportPartOutput,
)
from workflows.common.contracts import ActivityContract
from workflows.file.tenant_storage_contracts import FILE


@dataclass
class BuildArchiveInput:
    export_id: str
    user_id: str
    tenant_ids: list[str] = field(default_factory=list)
    #: The services' JSON parts (blob keys), put into the archive as ``<service>.json``.
    parts: list[str] = field(default_factory=list)


@dataclass
class BuildArchiveOutput:
    blob_key: str
    size: int
    sha256: str
    files: int


EXPORT_FILE_DATA = ActivityContract(
    "file.export_personal_data", FILE, ExportPartInput, ExportPartOutput
)
BUILD_EXPORT_ARCHIVE = ActivityContract(
    "file.build_export_archive",
    FILE,
    BuildArchiveInput,
    BuildArchiveOutput,
    start_to_close=timedelta(minutes=30),
    heartbeat=timedelta(seconds=30),
)
ERASE_FILE_DATA = ActivityContract(
    "file.erase_personal_data",
    FILE,
    ErasePartInput,
    ErasePartOutput,
    start_to_close=timedelta(minutes=10),
)
