"""``file_upload``: what happens to a file once its bytes are stored (docs/files.md).

1. **validate** the row and bytes against the rules (name, folder, size, the tenant's allowed
   types; ``workflows/file/rules.py``): status ``uploading`` -> ``scanning``;
2. **scan** the bytes with clamd (INSTREAM). clamd configured but unreachable: the activity
   fails and is retried without end while the file waits in ``scanning`` (fail closed); no
   scanner configured: the verdict is ``not_scanned``, logged by the activity;
3. **finish**: ``ready`` (clean, not scanned) or ``quarantined`` (infected: never downloadable);
4. a ready file's thumbnails and metadata: ``file_processing`` started as an abandoned child
   (``workflows/file/file_processing.py``; the run does not wait for it).

A file that breaks a rule, and any failure of a step, ends in the compensation: the blob is
deleted and the row marked ``rejected`` with the reason. Id: ``file-upload-<file id>`` (one run
per stored upload; a second start of the same file is refused by Temporal).
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.file.contracts import (
        FINISH_UPLOAD,
        REJECT_UPLOAD,
        SCAN_UPLOAD,
        VALIDATE_UPLOAD,
        FileError,
        FileWorkflow,
        FinishUploadInput,
        RejectUploadInput,
        UploadStepInput,
    )
    from workflows.file.file_processing import (
        FileProcessingInput,
        FileProcessingWorkflow,
        file_processing_workflow_id,
    )

#: The patch that starts ``file_processing`` once a file is ready (histories recorded before
#: it replay without the child).
PROCESSING_PATCH = "file-upload-processing"


@dataclass
class FileUploadInput:
    tenant_id: str
    file_id: str


@dataclass
class FileUploadResult:
    file_id: str
    #: ``ready``, ``quarantined`` or ``rejected``.
    status: str
    #: ``clean``, ``infected``, ``not_scanned``, or None (rejected before the scan).
    verdict: str | None = None
    reason: str | None = None


def file_upload_workflow_id(file_id: str) -> str:
    return f"file-upload-{file_id}"


def _reason(error: ActivityError) -> str:
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return f"{cause.type}: {cause.message}"[:255]
    return "the upload could not be processed"


@workflow.defn(name=FileWorkflow.FILE_UPLOAD)
class FileUploadWorkflow:
    @workflow.init
    def __init__(self, input: FileUploadInput) -> None:
        self._progress = ProgressTracker(total=3, label="validating")

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.run
    async def run(self, input: FileUploadInput) -> FileUploadResult:
        key = f"{workflow.info().workflow_id}:{workflow.info().run_id}"
        step = UploadStepInput(input.tenant_id, input.file_id, f"{key}:validate")
        try:
            checked = await VALIDATE_UPLOAD.execute(step)
            if not checked.accepted:
                return await self._reject(input, key, checked.reason or "refused by validation")
            self._progress.advance(1, "scanning for viruses")
            scan = await SCAN_UPLOAD.execute(
                UploadStepInput(input.tenant_id, input.file_id, f"{key}:scan")
            )
            self._progress.advance(2, "finishing")
            finished = await FINISH_UPLOAD.execute(
                FinishUploadInput(
                    input.tenant_id, input.file_id, scan.verdict, scan.signature, f"{key}:finish"
                )
            )
        except ActivityError as error:
            await self._reject(input, key, _reason(error))
            raise ApplicationError(
                f"the upload failed: {_reason(error)}",
                type=FileError.INVALID_INPUT,
                non_retryable=True,
            ) from error
        if finished.status == "ready" and workflow.patched(PROCESSING_PATCH):
            await self._process(input)
        self._progress.advance(3, finished.status, ProgressState.completed)
        return FileUploadResult(input.file_id, finished.status, scan.verdict)

    async def _process(self, input: FileUploadInput) -> None:
        try:
            await workflow.start_child_workflow(
                FileProcessingWorkflow.run,
                FileProcessingInput(input.tenant_id, input.file_id),
                id=file_processing_workflow_id(input.file_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            workflow.logger.info("the file's processing runs already")

    async def _reject(self, input: FileUploadInput, key: str, reason: str) -> FileUploadResult:
        self._progress.set_state(ProgressState.compensating, "rejecting the file")
        await REJECT_UPLOAD.execute(
            RejectUploadInput(input.tenant_id, input.file_id, reason, f"{key}:reject")
        )
        self._progress.set_state(ProgressState.failed, "rejected")
        return FileUploadResult(input.file_id, "rejected", None, reason)
