"""``file_migration`` (queue ``<prefix>-file``): a tenant's file blobs moved from one blob store
to another (``local`` to ``s3`` and back; docs/files.md, "Moving a tenant's blobs").

Batch by batch in file id order: the file service lists the source's next ready or quarantined
files, then copies each to the target, reads the copy back and checks it against the row's
SHA-256, and only then points the row at the target (downloads read the store the row names,
so they are served from the old store until the new copy is verified), deleting the source
copies once the batch is done. The copying activity heartbeats its outcomes, so a killed
worker's batch resumes where it stopped. A file that fails (checksum, missing blob) stays where
it was and is reported; the run goes on. Progress: files and bytes done (``progress``, and
``migration_status`` for the counts); the result is the report. The run continues as new every
``batches_per_run`` batches (or when Temporal suggests it), carrying only the cursor and the
counts. Compensation: a run that fails or is cancelled removes the target copies of its current
batch that no row points at; every switched row points at a verified copy.
Id: ``file-migration-<tenant id>`` (one migration per tenant at a time).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState
    from workflows.common.queues import sibling_queue
    from workflows.file.batches import in_batches, step_key
    from workflows.file.contracts import FileWorkflow
    from workflows.file.migration_contracts import (
        CLEAN_MIGRATION_TARGET,
        LIST_MIGRATION_BATCH,
        MIGRATE_FILES,
        CleanMigrationTargetInput,
        ListMigrationBatchInput,
        ListMigrationBatchOutput,
        MigrateFilesInput,
        MigrateFilesOutput,
        MigrationOutcome,
    )

MIGRATION_STATUS_QUERY = "migration_status"
#: Failures kept by name in the report; beyond, only counted (the payload stays small).
MAX_LISTED_FAILURES = 200
MIB = 1024 * 1024


@dataclass
class FileFailure:
    file_id: str
    reason: str


@dataclass
class MigrationReport:
    source: str
    target: str
    #: Movable files and bytes in the source when the run began (None before the first batch).
    total_files: int | None = None
    total_bytes: int | None = None
    moved_files: int = 0
    moved_bytes: int = 0
    failed_files: int = 0
    skipped_files: int = 0
    failures: list[FileFailure] = field(default_factory=list)
    batches: int = 0
    #: Bytes of the files handled so far, whatever their outcome (the progress percent).
    done_bytes: int = 0
    #: Uploads not ready when the run began (validating, scanning, bytes still arriving, tus
    #: partial uploads too): left out, they stay in the store they land in (the default).
    uploads_in_progress: int = 0

    @property
    def done_files(self) -> int:
        return self.moved_files + self.failed_files + self.skipped_files


@dataclass
class FileMigrationInput:
    tenant_id: str
    source: str
    target: str
    batch_size: int = 20
    batches_per_run: int = 100
    #: Carried across continue-as-new: the last file id handled and the counts so far.
    after: str | None = None
    report: MigrationReport | None = None


@dataclass
class FileMigrationResult:
    tenant_id: str
    report: MigrationReport


def file_migration_workflow_id(tenant_id: str) -> str:
    return f"file-migration-{tenant_id}"


@workflow.defn(name=FileWorkflow.FILE_MIGRATION)
class FileMigrationWorkflow:
    @workflow.init
    def __init__(self, input: FileMigrationInput) -> None:
        self._report = input.report or MigrationReport(input.source, input.target)
        self._state = ProgressState.running
        self._label = "listing files"

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        report = self._report
        total = report.total_files or 0
        if self._state == ProgressState.completed:
            percent = 100
        elif report.total_bytes:
            percent = min(99, int(100 * report.done_bytes / report.total_bytes))
        else:
            percent = int(100 * report.done_files / total) if total else 0
        return Progress(report.done_files, total, self._label, percent, self._state.value)

    @workflow.query(name=MIGRATION_STATUS_QUERY)
    def migration_status(self) -> MigrationReport:
        return self._report

    @workflow.run
    async def run(self, input: FileMigrationInput) -> FileMigrationResult:
        report = self._report

        async def listing(after: str | None) -> ListMigrationBatchOutput:
            listed = await LIST_MIGRATION_BATCH.execute(
                ListMigrationBatchInput(
                    input.tenant_id,
                    input.source,
                    input.target,
                    after,
                    input.batch_size,
                    step_key(f"list:{after or 'start'}"),
                )
            )
            if report.total_files is None:
                report.uploads_in_progress = listed.uploads_in_progress
            return listed

        async def handle(ids: list[str], listed: ListMigrationBatchOutput) -> None:
            await self._migrate(input, ids, {i.file_id: i.size for i in listed.items})

        await in_batches(
            report,
            input,
            listing=listing,
            handle=handle,
            carry_on=lambda after: replace(input, after=after, report=report),
        )
        self._state, self._label = ProgressState.completed, self._summary()
        return FileMigrationResult(input.tenant_id, report)

    async def _migrate(
        self, input: FileMigrationInput, ids: list[str], sizes: dict[str, int]
    ) -> None:
        report = self._report
        self._label = f"moving files {report.done_files + 1}-{report.done_files + len(ids)}"
        try:
            moved = await self._copy(input, ids)
        except (ActivityError, asyncio.CancelledError) as error:
            cancelled = isinstance(error, asyncio.CancelledError) or isinstance(
                error.cause, CancelledError
            )
            await self._compensate(input, ids)
            if cancelled:
                raise asyncio.CancelledError("file_migration cancelled") from error
            raise ApplicationError(
                "the migration stopped; every file is readable where its row points",
                type="MigrationFailed",
                non_retryable=True,
            ) from error
        for outcome in moved.outcomes:
            if outcome.status == MigrationOutcome.MOVED:
                report.moved_files += 1
                report.moved_bytes += outcome.bytes
            elif outcome.status == MigrationOutcome.FAILED:
                report.failed_files += 1
                if len(report.failures) < MAX_LISTED_FAILURES:
                    report.failures.append(FileFailure(outcome.file_id, outcome.reason or ""))
            else:
                report.skipped_files += 1
            report.done_bytes += sizes.get(outcome.file_id, 0)
        self._label = self._summary()

    async def _copy(self, input: FileMigrationInput, ids: list[str]) -> MigrateFilesOutput:
        # Waits for a cancelled copy to stop before the compensation runs, so no copy lands
        # in the target after its clean-up.
        return await workflow.execute_activity(
            MIGRATE_FILES.name,
            MigrateFilesInput(
                input.tenant_id, input.source, input.target, ids, step_key(f"copy:{ids[0]}")
            ),
            task_queue=sibling_queue(MIGRATE_FILES.service),
            result_type=MigrateFilesOutput,
            start_to_close_timeout=MIGRATE_FILES.start_to_close,
            heartbeat_timeout=MIGRATE_FILES.heartbeat,
            retry_policy=MIGRATE_FILES.retry_policy,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )

    def _summary(self) -> str:
        report = self._report
        return (
            f"{report.moved_files} of {report.total_files or 0} files moved "
            f"({report.moved_bytes / MIB:.1f} of {(report.total_bytes or 0) / MIB:.1f} MiB), "
            f"{report.failed_files} failed"
        )

    async def _compensate(self, input: FileMigrationInput, ids: list[str]) -> None:
        self._state, self._label = ProgressState.compensating, "removing unswitched copies"
        await CLEAN_MIGRATION_TARGET.execute(
            CleanMigrationTargetInput(
                input.tenant_id, input.source, input.target, ids, step_key(f"clean:{ids[0]}")
            )
        )
        self._state, self._label = ProgressState.failed, "stopped: " + self._summary()
