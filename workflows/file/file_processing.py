"""``file_processing``: thumbnails and metadata of a ready file (docs/files.md#processing).

Started by ``file_upload`` as an abandoned child once a file is ``ready`` (patch
``file-upload-processing``). One step, **process**: the file's detected type (never the
client's claim) picks the renderer: images (JPEG, PNG, GIF, WebP; first frame of an animation)
through Pillow, PDFs (first page, page count) through pypdfium2; thumbnails at each of
``THUMBNAIL_SIZES`` re-encoded from pixels (no EXIF). A refusal (decompression bomb, size cap)
or an undecodable file is recorded on the file (``rejected`` / ``failed``), never an error;
the file stays ready. A step that fails for good is compensated: every thumbnail blob and row
of the run removed, the outcome ``failed``. Id: ``file-processing-<file id>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.file.contracts import FileWorkflow
    from workflows.file.processing_contracts import (
        PROCESS_FILE,
        REMOVE_RENDITIONS,
        ProcessStepInput,
        RemoveRenditionsInput,
    )


@dataclass
class FileProcessingInput:
    tenant_id: str
    file_id: str


@dataclass
class FileProcessingResult:
    file_id: str
    #: done, skipped, rejected or failed.
    status: str
    detail: str | None = None
    sizes: list[int] = field(default_factory=list)


def file_processing_workflow_id(file_id: str) -> str:
    return f"file-processing-{file_id}"


def _reason(error: ActivityError) -> str:
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return f"{cause.type}: {cause.message}"[:255]
    return "the file could not be processed"


@workflow.defn(name=FileWorkflow.FILE_PROCESSING)
class FileProcessingWorkflow:
    @workflow.init
    def __init__(self, input: FileProcessingInput) -> None:
        self._progress = ProgressTracker(total=1, label="making thumbnails")

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.run
    async def run(self, input: FileProcessingInput) -> FileProcessingResult:
        key = f"{workflow.info().workflow_id}:{workflow.info().run_id}"
        try:
            done = await PROCESS_FILE.execute(
                ProcessStepInput(input.tenant_id, input.file_id, f"{key}:process")
            )
        except ActivityError as error:
            reason = _reason(error)
            self._progress.set_state(ProgressState.compensating, "removing thumbnails")
            await REMOVE_RENDITIONS.execute(
                RemoveRenditionsInput(input.tenant_id, input.file_id, reason, f"{key}:remove")
            )
            self._progress.set_state(ProgressState.failed, "failed")
            return FileProcessingResult(input.file_id, "failed", reason)
        self._progress.advance(1, done.status, ProgressState.completed)
        return FileProcessingResult(input.file_id, done.status, done.detail, done.sizes)
