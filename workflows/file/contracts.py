"""Contracts of the file domain: workflow names, business error types, and the activities of
``file_upload`` (queue ``<prefix>-file``). The tenant flows' contracts are
``tenant_storage_contracts``; a deactivated user's files ``user_files_contracts``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Final

from temporalio.common import RetryPolicy

from workflows.common.contracts import ActivityContract
from workflows.file.tenant_storage_contracts import FILE


class FileWorkflow:
    """Workflow type names, as histories record them (never renamed)."""

    FILE_UPLOAD: Final = "file_upload"
    FILE_PROCESSING: Final = "file_processing"
    FILE_MIGRATION: Final = "file_migration"
    FILE_SHARING: Final = "file_sharing"
    FILE_PURGE: Final = "file_purge"


class FileError(StrEnum):
    """Stable ``ApplicationError.type`` values of the file domain (HTTP and GraphQL map them)."""

    INVALID_INPUT = "InvalidInput"
    FILE_NOT_FOUND = "FileNotFound"
    TYPE_NOT_ALLOWED = "TypeNotAllowed"
    TOO_LARGE = "TooLarge"
    QUOTA_EXCEEDED = "QuotaExceeded"
    PERMISSION_DENIED = "PermissionDenied"
    #: Not downloadable: still uploading or scanning, quarantined, or rejected.
    FILE_NOT_READY = "FileNotReady"
    #: A signed URL whose signature does not verify (tampered, another key, another file).
    INVALID_SIGNATURE = "InvalidSignature"
    #: A signed URL past its expiry, or for a version of the file that has been replaced.
    URL_EXPIRED = "UrlExpired"
    #: The scanner answered something that is neither clean nor a finding.
    SCAN_FAILED = "ScanFailed"
    #: A share link with a password, opened without one.
    PASSWORD_REQUIRED = "PasswordRequired"  # noqa: S105 (an error type)
    #: A share link's password that does not match.
    WRONG_PASSWORD = "WrongPassword"  # noqa: S105 (an error type)
    #: A share that was revoked (or has expired): its link no longer opens the file.
    SHARE_ENDED = "ShareEnded"


@dataclass
class UploadStepInput:
    tenant_id: str
    file_id: str
    idempotency_key: str


@dataclass
class ValidateUploadOutput:
    #: False: the file breaks a rule (``reason`` says which); the run rejects it.
    accepted: bool
    reason: str | None = None
    size: int = 0
    content_type: str = ""


#: The row and its bytes against the rules (name, folder, size limit, the tenant's allowed
#: types); a valid file moves to ``scanning``.
VALIDATE_UPLOAD = ActivityContract(
    "file.validate_upload", FILE, UploadStepInput, ValidateUploadOutput
)


class Verdict(StrEnum):
    """What a scan found (``storage.files.models.ScanVerdict`` holds the same values)."""

    CLEAN = "clean"
    INFECTED = "infected"
    NOT_SCANNED = "not_scanned"


@dataclass
class ScanUploadOutput:
    #: ``Verdict``.
    verdict: str
    #: The scanner's name of what it found (an infected file).
    signature: str | None = None


#: clamd configured but unreachable: the attempt fails and is retried without end, the file
#: waiting in ``scanning`` (fail closed). The interval stays short so the file is ready soon
#: after the scanner returns.
SCAN_RETRY: Final = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=0,
)

#: INSTREAM of the blob to clamd; no scanner configured: ``not_scanned`` (logged).
SCAN_UPLOAD = ActivityContract(
    "file.scan_upload",
    FILE,
    UploadStepInput,
    ScanUploadOutput,
    start_to_close=timedelta(minutes=10),
    retry_policy=SCAN_RETRY,
)


@dataclass
class FinishUploadInput:
    tenant_id: str
    file_id: str
    #: ``Verdict``: clean and not_scanned make the file ``ready``, infected ``quarantined``.
    verdict: str
    signature: str | None
    idempotency_key: str


@dataclass
class FinishUploadOutput:
    #: The file's status after the step (``ready`` or ``quarantined``).
    status: str


FINISH_UPLOAD = ActivityContract("file.finish_upload", FILE, FinishUploadInput, FinishUploadOutput)


@dataclass
class RejectUploadInput:
    tenant_id: str
    file_id: str
    #: Shown to the owner on the file (safe text, never the file's bytes).
    reason: str
    idempotency_key: str


@dataclass
class RejectUploadOutput:
    #: False when the file was rejected already (a retried step).
    rejected: bool


#: Compensation: the blob removed, the row ``rejected`` with the reason (idempotent).
REJECT_UPLOAD = ActivityContract("file.reject_upload", FILE, RejectUploadInput, RejectUploadOutput)
