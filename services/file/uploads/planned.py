"""Planned uploads: ``POST /uploads`` picks the file's id, holds its size against the quota and
starts its ``file_upload`` run before any byte, so the uploader follows the run from the start
(``workflowProgress``); the bytes then go where the plan says (``POST /files?upload_id=`` or a
tus creation whose metadata names ``upload_id``) and are announced to that run.

The plan is kept in Redis under the tenant (``file-upload-plan:<tenant>:<id>``, for
``ADX_FILE_UPLOAD_PLAN_SECONDS``), so an id from another tenant, an unknown or a used one is
refused (404); one upload at a time may carry it (a claim, 409 for a second). Once the row is
in, the plan is spent. A plan whose bytes never come: its run ends ``expired`` at the deadline,
its hold lapses (a day) or the Redis record expires first."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.common import workflow_calls
from services.common.errors import ConflictError
from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName
from services.common.tokens import Principal
from services.file.errors import file_error
from workflows.file.contracts import FileError
from workflows.file.file_upload import (
    UPLOAD_BYTES_SIGNAL,
    FileUploadInput,
    FileUploadWorkflow,
    UploadBytes,
    file_upload_workflow_id,
)
from workflows.tenant.tenant_switching import OWNER_MEMO

#: The key of a tus creation's ``Upload-Metadata`` that names its plan.
PLAN_METADATA = "upload_id"


@dataclass(frozen=True)
class PlannedUpload:
    resources: Resources
    tenant_id: uuid.UUID
    file_id: uuid.UUID
    #: The size the plan declared (the run's progress says how much of it arrived).
    size: int | None = None

    def _key(self, kind: str) -> str:
        return self.resources.redis_keys(kind, str(self.tenant_id), str(self.file_id))

    @property
    def workflow_id(self) -> str:
        return file_upload_workflow_id(str(self.file_id))

    def _input(self) -> FileUploadInput:
        return FileUploadInput(
            str(self.tenant_id),
            str(self.file_id),
            planned=True,
            bytes_deadline_seconds=self.resources.settings.file_upload_plan_seconds,
            expected_bytes=self.size,
        )

    def _start_options(self, principal: Principal) -> dict[str, object]:
        return {
            "id": self.workflow_id,
            "task_queue": self.resources.settings.task_queue(ServiceName.file),
            # The uploader's session may follow the run in the gateway (gateway/run_access.py).
            "memo": {OWNER_MEMO: principal.user_id},
        }

    async def record(self, principal: Principal) -> None:
        """The plan kept, then its run started (waiting for the bytes)."""
        seconds = self.resources.settings.file_upload_plan_seconds
        await self.resources.redis.set(self._key("file-upload-plan"), principal.user_id, ex=seconds)
        with acting_as(SecurityContext.for_principal(principal)):
            await workflow_calls.start(
                self.resources.temporal,
                FileUploadWorkflow.run,
                self._input(),
                errors=workflow_calls.WorkflowErrors(
                    call="file_upload (planned)",
                    already_started=lambda: ConflictError("this upload is planned already"),
                ),
                **self._start_options(principal),  # type: ignore[arg-type]
            )

    async def claim(self) -> None:
        """This upload carries the plan: 404 without one (unknown, spent, another tenant's),
        409 while another upload carries it."""
        if not await self.resources.redis.exists(self._key("file-upload-plan")):
            raise file_error(FileError.FILE_NOT_FOUND, "no such planned upload (or it expired)")
        seconds = self.resources.settings.file_upload_plan_seconds
        claimed = await self.resources.redis.set(
            self._key("file-upload-claim"), "1", nx=True, ex=seconds
        )
        if not claimed:
            raise ConflictError("another upload of this plan is under way")

    async def unclaim(self) -> None:
        await self.resources.redis.delete(self._key("file-upload-claim"))

    async def spend(self) -> None:
        await self.resources.redis.delete(
            self._key("file-upload-plan"), self._key("file-upload-claim")
        )

    async def announce(self, principal: Principal, update: UploadBytes) -> None:
        """Tell the run how far the bytes are; signal-with-start, so a run that ended (its
        deadline passed) starts again, with the bytes already there."""
        with acting_as(SecurityContext.for_principal(principal)):
            await workflow_calls.start(
                self.resources.temporal,
                FileUploadWorkflow.run,
                self._input(),
                errors=workflow_calls.WorkflowErrors(call="file_upload (bytes)"),
                start_signal=UPLOAD_BYTES_SIGNAL,
                start_signal_args=[update],
                **self._start_options(principal),  # type: ignore[arg-type]
            )
