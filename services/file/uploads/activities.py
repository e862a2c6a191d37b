"""The activities of ``file_upload`` (queue ``<prefix>-file``): validate, scan, finish, reject.

Each runs only in a ``file_upload`` run started for the same tenant as the caller's context
(``_scope``), and is idempotent: status changes happen only from the status the step expects,
so a retried step changes nothing twice, and deleting a blob twice is harmless."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from structlog.stdlib import get_logger

from services.common.resources import Resources
from services.common.security_context import ActorKind, denied, require_context, require_flow
from services.file.uploads.intake import MIB
from services.file.uploads.scanner import (
    ClamdScanner,
    ScannerUnavailableError,
    ScanRefusedError,
)
from storage.db import transaction
from storage.files.models import FileRecord, FileStatus, ScanVerdict
from storage.files.repository import FileRepository, StoragePolicyRepository
from workflows.common.errors import business_error
from workflows.file import contracts
from workflows.file.contracts import FileError, FileWorkflow, Verdict
from workflows.file.rules import FileRuleViolation, check_folder, check_name, type_allowed

log = get_logger(__name__)
GIB = 1024 * MIB


def _scope(tenant_id: str) -> uuid.UUID:
    context = require_context()
    require_flow(context, FileWorkflow.FILE_UPLOAD)
    if context.actor != ActorKind.system and context.tenant_id != tenant_id:
        raise denied("a file_upload run acts only on its caller's tenant")
    try:
        return uuid.UUID(tenant_id)
    except ValueError as error:
        raise business_error(FileError.INVALID_INPUT, "invalid tenant id") from error


def _file_id(file_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(file_id)
    except ValueError as error:
        raise business_error(FileError.INVALID_INPUT, "invalid file id") from error


class UploadActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        settings = resources.settings
        self.scanner = (
            ClamdScanner.from_address(
                settings.file_clamd_address,
                settings.file_clamd_timeout_seconds,
                settings.data_dir / "scan-spool",
            )
            if settings.file_clamd_address
            else None
        )

    async def _row(self, tenant_id: uuid.UUID, file_id: str) -> FileRecord:
        async with transaction(self.resources.database, tenant_id) as db:
            row = await FileRepository(db, tenant_id).get(_file_id(file_id))
        if row is None:
            raise business_error(FileError.FILE_NOT_FOUND, "no such file")
        return row

    def _problem(self, row: FileRecord, allowed: list[str] | None) -> str | None:
        settings = self.resources.settings
        limit = max(
            settings.file_max_direct_upload_mib * MIB, settings.file_max_tus_upload_gib * GIB
        )
        try:
            check_name(row.name)
            check_folder(row.folder)
        except FileRuleViolation as violation:
            return str(violation)
        if row.size <= 0:
            return "the file is empty"
        if row.size > limit:
            return f"the file is larger than {limit} bytes"
        if not type_allowed(row.content_type, allowed):
            return f"files of type {row.content_type} are not allowed in this tenant"
        return None

    @contracts.VALIDATE_UPLOAD.implement
    async def validate_upload(
        self, input: contracts.UploadStepInput
    ) -> contracts.ValidateUploadOutput:
        tenant_id = _scope(input.tenant_id)
        file_id = _file_id(input.file_id)
        async with transaction(self.resources.database, tenant_id) as db:
            repository = FileRepository(db, tenant_id)
            row = await repository.for_update(file_id)
            if row is None:
                raise business_error(FileError.FILE_NOT_FOUND, "no such file")
            policy = await StoragePolicyRepository(db, tenant_id).current()
            problem = self._problem(row, policy.allowed_types if policy else None)
            if problem is None:
                await repository.set_status(
                    file_id, FileStatus.SCANNING, only_from=(FileStatus.UPLOADING,)
                )
        return contracts.ValidateUploadOutput(
            accepted=problem is None, reason=problem, size=row.size, content_type=row.content_type
        )

    @contracts.SCAN_UPLOAD.implement
    async def scan_upload(self, input: contracts.UploadStepInput) -> contracts.ScanUploadOutput:
        tenant_id = _scope(input.tenant_id)
        row = await self._row(tenant_id, input.file_id)
        if self.scanner is None:
            log.warning(
                "file_not_scanned",
                file_id=input.file_id,
                reason="no scanner configured (ADX_FILE_CLAMD_ADDRESS unset)",
            )
            return contracts.ScanUploadOutput(verdict=Verdict.NOT_SCANNED.value)
        try:
            finding = await self.scanner.scan(self.resources.blobs, row.blob_key)
        except ScannerUnavailableError as error:
            # Fail closed: the attempt fails, Temporal retries it (SCAN_RETRY), the file waits.
            log.warning("file_scanner_unavailable", file_id=input.file_id, error=str(error))
            raise
        except ScanRefusedError as error:
            raise business_error(FileError.SCAN_FAILED, str(error)) from error
        if finding.infected:
            log.warning("file_infected", file_id=input.file_id, signature=finding.signature)
            return contracts.ScanUploadOutput(Verdict.INFECTED.value, finding.signature)
        return contracts.ScanUploadOutput(Verdict.CLEAN.value)

    @contracts.FINISH_UPLOAD.implement
    async def finish_upload(
        self, input: contracts.FinishUploadInput
    ) -> contracts.FinishUploadOutput:
        tenant_id = _scope(input.tenant_id)
        file_id = _file_id(input.file_id)
        try:
            verdict = Verdict(input.verdict)
        except ValueError as error:
            raise business_error(FileError.INVALID_INPUT, "unknown verdict") from error
        status = FileStatus.QUARANTINED if verdict == Verdict.INFECTED else FileStatus.READY
        async with transaction(self.resources.database, tenant_id) as db:
            repository = FileRepository(db, tenant_id)
            await repository.set_status(
                file_id,
                status,
                only_from=(FileStatus.SCANNING,),
                scan_verdict=ScanVerdict(verdict.value).value,
                status_detail=input.signature if verdict == Verdict.INFECTED else None,
            )
            row = await repository.get(file_id)
        if row is None:
            raise business_error(FileError.FILE_NOT_FOUND, "no such file")
        return contracts.FinishUploadOutput(status=row.status)

    @contracts.REJECT_UPLOAD.implement
    async def reject_upload(
        self, input: contracts.RejectUploadInput
    ) -> contracts.RejectUploadOutput:
        tenant_id = _scope(input.tenant_id)
        file_id = _file_id(input.file_id)
        async with transaction(self.resources.database, tenant_id) as db:
            row = await FileRepository(db, tenant_id).get(file_id)
        if row is None:
            return contracts.RejectUploadOutput(rejected=False)
        # Blob first: a retry after a crash still finds the row that names it.
        await self.resources.blobs.delete(row.blob_key)
        async with transaction(self.resources.database, tenant_id) as db:
            changed = await FileRepository(db, tenant_id).set_status(
                file_id,
                FileStatus.REJECTED,
                only_from=(FileStatus.UPLOADING, FileStatus.SCANNING, FileStatus.READY),
                status_detail=input.reason[:255],
            )
        log.info("file_rejected", file_id=input.file_id)
        return contracts.RejectUploadOutput(rejected=changed)

    def all(self) -> list[Callable[..., Any]]:
        return [self.validate_upload, self.scan_upload, self.finish_upload, self.reject_upload]
