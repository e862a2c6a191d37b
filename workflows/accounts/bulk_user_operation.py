"""``bulk_user_operation``: one operation over many users of a tenant (docs/users.md, "Bulk
operations"): ``import``, ``change_role``, ``deactivate``, ``delete`` (from the tenant).

The uploaded rows are in ``users.bulk_operation_rows`` (the route stored them, malformed ones
already ``failed``); the run reads them a batch at a time (``user.load_bulk_rows``), runs each
row as the child workflow that already does that change for one user, at most ``parallelism`` at
once, and records the batch's results (``user.record_bulk_results``). A row that fails is
reported and the run goes on: one bad row never fails the operation.

- ``import``: since ``bulk-import-batched``, a batch's rows through each owning service at once
  (``workflows/accounts/bulk_import_batch.py``: accounts, memberships, claims, user rows, welcome
  mails; a refused row fails alone and what was done for it is undone); since
  ``bulk-import-lanes`` up to ``MAX_LANES`` chunks of a batch at once, since
  ``bulk-import-password-links`` a ``bulk_password_links`` run per chunk mails its new accounts'
  set-password links; runs recorded before ran ``user_onboarding`` per row (queue
  ``<prefix>-workflow``, ``workflows/onboarding``);
- ``change_role``, ``delete``: ``membership_change`` (``change-role``, ``remove``; queue
  ``<prefix>-tenant``);
- ``deactivate``: ``user_deactivation`` (this queue);
- ``invite`` (since ``bulk-invite``): ``tenant.bulk_invite``, the invitation route's rules and
  mail, an activity per row.

Each child checks the actor's right to that change itself (the run's security context travels
to it), so a row naming someone the admin may not change fails, alone.

Large inputs: after ``rows_per_run`` rows (or when Temporal suggests it) the run continues as new
carrying only the cursor (the last row number handled) and the counters.

Cancelling: no new row starts; the rows in flight finish (each child is a whole change, none is
left half-done), their results are recorded, the rows never run are marked ``cancelled``, and the
run ends cancelled. Ids: ``bulk-user-operation-<operation id>``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    WorkflowAlreadyStartedError,
    is_cancelled_exception,
)

# Not passed through: a workflow module, imported in the sandbox (its contracts pass through
# its own block, so the sandbox knows their modules when it decodes their results).
from workflows.accounts.bulk_import_batch import CHUNK, ImportBatch

with workflow.unsafe.imports_passed_through():
    from workflows.accounts.user_deactivation import (
        UserDeactivationInput,
        UserDeactivationResult,
        user_deactivation_workflow_id,
    )
    from workflows.auth.bulk_password_links import bulk_password_links_workflow_id
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.common.queues import sibling_queue
    from workflows.onboarding.contracts import (
        WORKFLOW,
        OnboardingWorkflow,
        UserOnboardingInput,
        UserOnboardingResult,
    )
    from workflows.tenant.bulk_import_contracts import INVITE_ROW, InviteRowInput
    from workflows.tenant.contracts import TENANT, TenantWorkflow
    from workflows.tenant.membership_change import (
        MembershipChangeInput,
        MembershipChangeResult,
        membership_change_workflow_id,
    )
    from workflows.tenant.membership_contracts import MembershipChangeKind
    from workflows.user.bulk_contracts import (
        FINISH_BULK_OPERATION,
        LOAD_BULK_ROWS,
        RECORD_BULK_RESULTS,
        BulkKind,
        BulkRow,
        FinishBulkOperationInput,
        LoadBulkRowsInput,
        OperationStatus,
        RecordBulkResultsInput,
        RowResult,
        RowStatus,
    )
    from workflows.user.contracts import USER, UserError, UserWorkflow

BUSY = "another change of this member is in progress; try this row again later"
#: ``import`` runs a batch of rows through each service at once (``bulk_import_batch.py``)
#: instead of a ``user_onboarding`` child per row; histories from before replay the old path.
BATCHED_IMPORT = "bulk-import-batched"
#: ``invite`` offered (``tenant.bulk_invite`` per row); refused as not offered before.
BULK_INVITE = "bulk-invite"
#: A batched import mails its new accounts' set-password links (``bulk_password_links``).
PASSWORD_LINKS = "bulk-import-password-links"  # noqa: S105 - a patch id
#: A batched import runs up to ``MAX_LANES`` chunks of a batch at once (each service's step of
#: one chunk beside another's); runs recorded before ran them one after the other.
IMPORT_LANES = "bulk-import-lanes"
MAX_LANES = 4
#: Rows a lane takes at least (smaller chunks cost more per row than they overlap).
MIN_LANE_ROWS = 100
_ERROR_MAX = 500


@dataclass
class BulkUserOperationInput:
    operation_id: str
    tenant_id: str
    #: ``BulkKind``.
    kind: str
    #: Who asks (every child checks it may do its change for them).
    actor_id: str
    #: Rows uploaded (malformed ones included: they count as failed from the start).
    total: int
    batch_size: int = 100
    parallelism: int = 10
    #: Rows one run handles before it continues as new.
    rows_per_run: int = 2_000
    #: How long an imported person's set-password link works (``user_onboarding``'s default).
    password_link_ttl_seconds: float = 7 * 24 * 3600.0
    #: Carried over continue-as-new: the last row number handled, and the counts so far.
    cursor: int = 0
    done: int = 0
    failed: int = 0


@dataclass
class BulkUserOperationResult:
    operation_id: str
    kind: str
    total: int
    done: int
    failed: int
    cancelled: int = 0


@dataclass
class BulkCounts:
    """The ``bulk_counts`` query: how far the operation is."""

    done: int
    failed: int
    total: int


def bulk_user_operation_workflow_id(operation_id: str) -> str:
    return f"bulk-user-operation-{operation_id}"


def _message(error: BaseException) -> str:
    """What a row's report says of a failed child: its business failure's message."""
    cause: BaseException | None = error
    while isinstance(cause, (ChildWorkflowError, ActivityError)) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, WorkflowAlreadyStartedError):
        return BUSY
    text = cause.message if isinstance(cause, ApplicationError) else str(cause)
    return (text or type(cause).__name__)[:_ERROR_MAX]


@workflow.defn(name=UserWorkflow.BULK_USER_OPERATION)
class BulkUserOperationWorkflow:
    @workflow.init
    def __init__(self, input: BulkUserOperationInput) -> None:
        self._input = input
        self._done, self._failed = input.done, input.failed
        self._progress = ProgressTracker(total=max(input.total, 1))
        self._stopping = False
        self._show("starting")

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.query(name="bulk_counts")
    def counts(self) -> BulkCounts:
        return BulkCounts(done=self._done, failed=self._failed, total=self._input.total)

    def _show(self, label: str, state: ProgressState = ProgressState.running) -> None:
        text = f"{label}: {self._done} done, {self._failed} failed of {self._input.total}"
        self._progress.advance(min(self._done + self._failed, self._input.total), text, state)

    @workflow.run
    async def run(self, input: BulkUserOperationInput) -> BulkUserOperationResult:
        info = workflow.info()
        self._key = f"{info.workflow_id}:{info.run_id}"
        try:
            kind = BulkKind(input.kind)
        except ValueError:
            self._progress.set_state(ProgressState.failed, "unknown operation")
            raise ApplicationError(
                f"unknown bulk operation {input.kind!r}",
                type=UserError.INVALID_INPUT,
                non_retryable=True,
            ) from None
        if kind not in RUNS or (kind == BulkKind.INVITE and not workflow.patched(BULK_INVITE)):
            self._progress.set_state(ProgressState.failed, "operation not offered")
            raise ApplicationError(
                f"bulk {kind.value} is not offered yet",
                type=UserError.INVALID_INPUT,
                non_retryable=True,
            )
        self._slots = asyncio.Semaphore(max(1, input.parallelism))
        self._batch: asyncio.Task[None] | None = None
        cursor, handled = input.cursor, 0
        try:
            while True:
                if handled >= input.rows_per_run or workflow.info().is_continue_as_new_suggested():
                    self._show("continuing")
                    workflow.continue_as_new(
                        replace(input, cursor=cursor, done=self._done, failed=self._failed)
                    )
                batch = await LOAD_BULK_ROWS.execute(
                    LoadBulkRowsInput(
                        operation_id=input.operation_id,
                        tenant_id=input.tenant_id,
                        after=cursor,
                        limit=max(1, min(input.batch_size, input.rows_per_run - handled)),
                        idempotency_key=f"{self._key}:load:{cursor}",
                    )
                )
                if not batch.rows:
                    break
                self._show("running")
                self._batch = asyncio.create_task(
                    self._run_batch(kind, batch.rows, f"{self._key}:rows:{cursor}", cursor)
                )
                # ``workflow.wait`` (not ``gather``): a cancellation of the run reaches this await only, never the
                # batch's task, which lets its rows finish and records them (see ``_stop``).
                await workflow.wait([self._batch])
                self._batch.result()
                cursor, handled = batch.rows[-1].row_number, handled + len(batch.rows)
                self._show("running")
            cancelled = await self._finish(OperationStatus.COMPLETED)
        except (asyncio.CancelledError, ActivityError) as error:
            # A cancel reaches the run as CancelledError at a wait, or as the cancelled
            # activity's error when it lands during one of the run's own steps.
            if isinstance(error, ActivityError) and not is_cancelled_exception(error):
                raise
            await self._stop()
            raise
        self._show("completed", ProgressState.completed)
        return BulkUserOperationResult(
            input.operation_id, kind.value, input.total, self._done, self._failed, cancelled
        )

    # --- one batch: its rows at most ``parallelism`` at once, then their results recorded ---

    async def _run_batch(self, kind: BulkKind, rows: list[BulkRow], key: str, cursor: int) -> None:
        if kind == BulkKind.IMPORT and workflow.patched(BATCHED_IMPORT):
            results = await self._import_batch(rows, key, cursor)
        else:
            outcomes = await asyncio.gather(*(self._row(kind, row) for row in rows))
            results = [r for r in outcomes if r is not None]
        if not results:
            return
        await RECORD_BULK_RESULTS.execute(
            RecordBulkResultsInput(self._input.operation_id, self._input.tenant_id, results, key)
        )
        for result in results:
            if result.status == RowStatus.DONE:
                self._done += 1
            else:
                self._failed += 1

    async def _import_batch(self, rows: list[BulkRow], key: str, cursor: int) -> list[RowResult]:
        """The batched import: each chunk of rows through every service at once, since
        ``bulk-import-lanes`` up to ``MAX_LANES`` chunks at a time (at most ``parallelism``);
        a cancel lets the chunks in flight finish (their rows recorded), the rest stay
        pending."""
        lanes = 1
        size = CHUNK
        if workflow.patched(IMPORT_LANES):
            lanes = max(1, min(MAX_LANES, self._input.parallelism))
            size = min(CHUNK, max(MIN_LANE_ROWS, -(-len(rows) // lanes)))
        links = workflow.patched(PASSWORD_LINKS)
        slots = asyncio.Semaphore(lanes)

        async def chunk(start: int) -> list[RowResult]:
            async with slots:
                if self._stopping:
                    return []
                batch = ImportBatch(
                    tenant_id=self._input.tenant_id,
                    operation_id=self._input.operation_id,
                    actor_id=self._input.actor_id,
                    key=f"{key}:{start}",
                    # From the input, not ``workflow.info()``: the same id on replay.
                    links_workflow_id=bulk_password_links_workflow_id(
                        bulk_user_operation_workflow_id(self._input.operation_id),
                        f"{cursor}-{start}",
                    )
                    if links
                    else None,
                    link_ttl_seconds=self._input.password_link_ttl_seconds,
                )
                return await batch.run(rows[start : start + size])

        if lanes == 1:  # the order of the commands of runs recorded before
            results: list[RowResult] = []
            for start in range(0, len(rows), size):
                results += await chunk(start)
            return results
        chunks = await asyncio.gather(*(chunk(start) for start in range(0, len(rows), size)))
        return [result for part in chunks for result in part]

    async def _row(self, kind: BulkKind, row: BulkRow) -> RowResult | None:
        async with self._slots:
            if self._stopping:  # cancelled before this row's turn: it stays pending
                return None
            try:
                user_id = await RUNS[kind](self, row)
            except (ChildWorkflowError, WorkflowAlreadyStartedError, ApplicationError) as error:
                return RowResult(row.row_number, RowStatus.FAILED.value, _message(error))
            except ActivityError as error:  # a step run as an activity (``invite``)
                if is_cancelled_exception(error):
                    raise
                return RowResult(row.row_number, RowStatus.FAILED.value, _message(error))
            return RowResult(row.row_number, RowStatus.DONE.value, None, user_id)

    async def _stop(self) -> None:
        """The clean stop of a cancelled run: the rows in flight end and are recorded, the
        rows never started are marked ``cancelled``."""
        self._stopping = True
        self._show("stopping")
        if self._batch is not None and not self._batch.done():
            await workflow.wait([self._batch])
        cancelled = await self._finish(OperationStatus.CANCELLED)
        self._show(f"cancelled, {cancelled} rows not run", ProgressState.failed)

    async def _finish(self, status: OperationStatus) -> int:
        out = await FINISH_BULK_OPERATION.execute(
            FinishBulkOperationInput(
                self._input.operation_id,
                self._input.tenant_id,
                status.value,
                f"{self._key}:finish",
            )
        )
        self._done, self._failed = out.done, out.failed
        return out.cancelled

    # --- each kind's child workflow -------------------------------------------------------

    async def _child(self, name: str, arg: Any, *, id: str, queue: str, result: type) -> Any:
        return await workflow.execute_child_workflow(
            name, arg, id=id, task_queue=sibling_queue(queue), result_type=result
        )

    async def _import(self, row: BulkRow) -> str | None:
        out: UserOnboardingResult = await self._child(
            OnboardingWorkflow.USER_ONBOARDING,
            UserOnboardingInput(
                tenant_id=self._input.tenant_id,
                email=row.email or "",
                role=row.role or "member",
                actor_id=self._input.actor_id,
                display_name=row.display_name,
                given_name=row.given_name,
                family_name=row.family_name,
                locale=row.locale,
                time_zone=row.time_zone,
                source="bulk_import",
                external_id=str(row.row_number),
                idempotency_key=f"{workflow.info().workflow_id}:row:{row.row_number}",
            ),
            id=f"{workflow.info().workflow_id}-row-{row.row_number}",
            queue=WORKFLOW,
            result=UserOnboardingResult,
        )
        return out.user_id

    async def _membership(self, row: BulkRow, kind: MembershipChangeKind) -> str | None:
        tenant_id, user_id = self._input.tenant_id, row.user_id or ""
        await self._child(
            TenantWorkflow.MEMBERSHIP_CHANGE,
            MembershipChangeInput(
                tenant_id=tenant_id,
                kind=kind.value,
                actor_id=self._input.actor_id,
                user_id=user_id,
                role=row.role if kind == MembershipChangeKind.CHANGE_ROLE else None,
            ),
            id=membership_change_workflow_id(kind.value, tenant_id, user_id),
            queue=TENANT,
            result=MembershipChangeResult,
        )
        return user_id

    async def _change_role(self, row: BulkRow) -> str | None:
        return await self._membership(row, MembershipChangeKind.CHANGE_ROLE)

    async def _delete(self, row: BulkRow) -> str | None:
        return await self._membership(row, MembershipChangeKind.REMOVE)

    async def _invite(self, row: BulkRow) -> str | None:
        """The row's invitation (``tenant.bulk_invite``, the route's rules and mail); the
        person is no member until they accept it, so the row names no user."""
        await INVITE_ROW.execute(
            InviteRowInput(
                tenant_id=self._input.tenant_id,
                actor_id=self._input.actor_id,
                email=row.email or "",
                role=row.role or "member",
                idempotency_key=f"{self._key}:invite:{row.row_number}",
            )
        )
        return None

    async def _deactivate(self, row: BulkRow) -> str | None:
        user_id = row.user_id or ""
        await self._child(
            UserWorkflow.USER_DEACTIVATION,
            UserDeactivationInput(
                user_id=user_id, actor_id=self._input.actor_id, tenant_id=self._input.tenant_id
            ),
            id=user_deactivation_workflow_id(user_id),
            queue=USER,
            result=UserDeactivationResult,
        )
        return user_id


RUNS = {
    BulkKind.IMPORT: BulkUserOperationWorkflow._import,
    BulkKind.CHANGE_ROLE: BulkUserOperationWorkflow._change_role,
    BulkKind.DEACTIVATE: BulkUserOperationWorkflow._deactivate,
    BulkKind.DELETE: BulkUserOperationWorkflow._delete,
    BulkKind.INVITE: BulkUserOperationWorkflow._invite,
}
