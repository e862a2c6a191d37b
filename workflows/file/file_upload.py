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

A **planned** upload (``POST /uploads``, GraphQL ``createUpload``) starts its run before any
byte, so the uploader follows it from the start: step 0 waits for the ``upload_bytes`` signal
(how many bytes arrived; ``stored`` once the row is in) for at most ``bytes_deadline_seconds``,
then goes on as above. Its service signals with start (``signal-with-start``), so a run that
ended meanwhile (its deadline passed) is started again with the bytes already there. Behind
``workflow.patched(PLANNED_PATCH)``.
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
#: The patch of the planned upload's wait for its bytes (step 0).
PLANNED_PATCH = "file-upload-planned"
#: The signal a planned run waits on (``UploadBytes``).
UPLOAD_BYTES_SIGNAL = "upload_bytes"


@dataclass
class FileUploadInput:
    tenant_id: str
    file_id: str
    #: Started by the plan, before the bytes: wait for ``UploadBytes.stored`` first.
    planned: bool = False
    #: How long a planned run waits for its bytes (``ADX_FILE_UPLOAD_PLAN_SECONDS``).
    bytes_deadline_seconds: int = 86400
    #: The size the plan declared.
    expected_bytes: int | None = None


@dataclass
class UploadBytes:
    """How far the bytes are: ``received`` of ``total`` (None: not declared); ``stored``: all
    of them are in the blob store and the row is written (the run may validate)."""

    received: int
    total: int | None = None
    stored: bool = False


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


def _receiving(update: UploadBytes) -> str:
    if update.total:
        return f"receiving the bytes: {update.received} of {update.total}"
    return f"waiting for the bytes: {update.received} so far"


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
        self._bytes = UploadBytes(received=0, total=input.expected_bytes)

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.signal(name=UPLOAD_BYTES_SIGNAL)
    def upload_bytes(self, update: UploadBytes) -> None:
        if self._bytes.stored:
            return
        self._bytes = update
        if not update.stored:
            self._progress.set_state(ProgressState.waiting, _receiving(update))

    @workflow.run
    async def run(self, input: FileUploadInput) -> FileUploadResult:
        key = f"{workflow.info().workflow_id}:{workflow.info().run_id}"
        if input.planned and workflow.patched(PLANNED_PATCH):
            if not self._bytes.stored:
                self._progress.set_state(ProgressState.waiting, _receiving(self._bytes))
            try:
                await workflow.wait_condition(
                    lambda: self._bytes.stored, timeout=input.bytes_deadline_seconds
                )
            except TimeoutError:
                self._progress.set_state(ProgressState.failed, "no bytes arrived in time")
                return FileUploadResult(input.file_id, "expired", None, "no bytes arrived")
            self._progress.set_state(ProgressState.running, "validating")
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
