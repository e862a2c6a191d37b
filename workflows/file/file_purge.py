"""``file_purge`` (queue ``<prefix>-file``): a tenant's files soft-deleted more than
``retention_seconds`` ago removed for good (docs/files.md, "Purge of soft-deleted files").

The cutoff is fixed once, from the run's clock, when the run begins (and carried across
continue-as-new). Batch by batch in file id order the file service lists the due files, then
removes each one's blob, thumbnails, shares, processing record, upload reservation and row; the
freed bytes stop counting against the quota as the row goes. Progress: files done of the due
files (``progress``; ``purge_status`` answers the report); the result is the report.

Compensation: none. Nothing a step does can be undone (the bytes are gone) and nothing needs
to be: every step is conditional on the row still being soft-deleted before the cutoff, so a
retried or repeated step removes nothing twice and never a restored file, and a run that stops
half-way leaves each file either untouched or fully purged (its blobs are deleted under the
row's lock, before the rows, in one transaction). A later run finishes the rest.
Id: ``file-purge-<tenant id>`` (one purge per tenant at a time).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState
    from workflows.file.batches import in_batches, step_key
    from workflows.file.contracts import FileWorkflow
    from workflows.file.purge_contracts import (
        LIST_PURGE_BATCH,
        PURGE_FILES,
        ListPurgeBatchInput,
        ListPurgeBatchOutput,
        PurgeFilesInput,
        PurgeOutcome,
    )

PURGE_STATUS_QUERY = "purge_status"
MIB = 1024 * 1024


@dataclass
class PurgeReport:
    #: Files soft-deleted before the cutoff when the run began (None before the first batch).
    total_files: int | None = None
    total_bytes: int | None = None
    purged_files: int = 0
    purged_bytes: int = 0
    #: Restored or purged by someone else meanwhile: left alone.
    skipped_files: int = 0
    batches: int = 0

    @property
    def done_files(self) -> int:
        return self.purged_files + self.skipped_files


@dataclass
class FilePurgeInput:
    tenant_id: str
    #: Files soft-deleted longer ago than this are purged (``ADX_FILE_PURGE_RETENTION_SECONDS``).
    retention_seconds: int
    batch_size: int = 50
    batches_per_run: int = 100
    #: Carried across continue-as-new: the cutoff (ISO 8601), the last file id, the counts.
    cutoff: str | None = None
    after: str | None = None
    report: PurgeReport | None = None


@dataclass
class FilePurgeResult:
    tenant_id: str
    cutoff: str
    report: PurgeReport


def file_purge_workflow_id(tenant_id: str) -> str:
    return f"file-purge-{tenant_id}"


@workflow.defn(name=FileWorkflow.FILE_PURGE)
class FilePurgeWorkflow:
    @workflow.init
    def __init__(self, input: FilePurgeInput) -> None:
        self._report = input.report or PurgeReport()
        self._state = ProgressState.running
        self._label = "listing files"

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        report = self._report
        total = report.total_files or 0
        if self._state == ProgressState.completed:
            percent = 100
        else:
            percent = min(99, int(100 * report.done_files / total)) if total else 0
        return Progress(report.done_files, total, self._label, percent, self._state.value)

    @workflow.query(name=PURGE_STATUS_QUERY)
    def purge_status(self) -> PurgeReport:
        return self._report

    @workflow.run
    async def run(self, input: FilePurgeInput) -> FilePurgeResult:
        cutoff = (
            input.cutoff
            or (workflow.now() - timedelta(seconds=input.retention_seconds)).isoformat()
        )
        report = self._report

        async def listing(after: str | None) -> ListPurgeBatchOutput:
            return await LIST_PURGE_BATCH.execute(
                ListPurgeBatchInput(
                    input.tenant_id,
                    cutoff,
                    after,
                    input.batch_size,
                    step_key(f"list:{after or 'start'}"),
                )
            )

        async def handle(ids: list[str], _listed: ListPurgeBatchOutput) -> None:
            self._label = f"purging files {report.done_files + 1}-{report.done_files + len(ids)}"
            purged = await PURGE_FILES.execute(
                PurgeFilesInput(input.tenant_id, cutoff, ids, step_key(f"purge:{ids[0]}"))
            )
            for outcome in purged.outcomes:
                if outcome.status == PurgeOutcome.PURGED:
                    report.purged_files += 1
                    report.purged_bytes += outcome.bytes
                else:
                    report.skipped_files += 1
            self._label = self._summary()

        await in_batches(
            report,
            input,
            listing=listing,
            handle=handle,
            carry_on=lambda after: replace(input, cutoff=cutoff, after=after, report=report),
        )
        self._state, self._label = ProgressState.completed, self._summary()
        return FilePurgeResult(input.tenant_id, cutoff, report)

    def _summary(self) -> str:
        report = self._report
        return (
            f"{report.purged_files} of {report.total_files or 0} files purged "
            f"({report.purged_bytes / MIB:.1f} MiB freed), {report.skipped_files} skipped"
        )
