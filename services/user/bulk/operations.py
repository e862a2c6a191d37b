"""A bulk operation stored and started, and its report read: the domain logic behind the routes.

The rows are committed before the run starts (the run reads them), and removed again if it
cannot be started, so a refused start leaves nothing behind. Rows about members (``change_role``,
``deactivate``, ``delete``) name them by ``user_id`` or ``email``; both are looked up in the
tenant's directory at upload, and a row naming nobody of this tenant fails there, with the same
message for an unknown person and another tenant's."""

from __future__ import annotations

import csv
import dataclasses
import io
import uuid
from collections.abc import Iterable

from temporalio.client import Client

from services.common import workflow_calls
from services.common.errors import ConflictError, DomainError
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName, Settings
from services.common.tokens import Principal
from services.common.workflow_calls import WorkflowErrors
from services.user.bulk.upload import ParsedUpload
from services.user.schemas import BulkReport, BulkRowOut
from storage.db import Database, DbSession, transaction
from storage.users.bulk_operations import FAILED, PENDING, BulkOperationRepository, NewRow
from workflows.accounts.bulk_user_operation import (
    BulkUserOperationInput,
    BulkUserOperationWorkflow,
    bulk_user_operation_workflow_id,
)
from workflows.user.bulk_contracts import ON_MEMBERS, BulkKind

NOT_A_MEMBER = "not a member of this tenant"
REPORT_COLUMNS = ("row_number", "status", "error", "user_id", "email")


async def _resolve_members(repository: BulkOperationRepository, rows: list[NewRow]) -> list[NewRow]:
    """Each pending row's member found in the directory (its ``user_id`` set), or failed."""
    pending = [r for r in rows if r.status == PENDING]
    ids = {uuid.UUID(r.data["user_id"]) for r in pending if "user_id" in r.data}
    emails = {r.data["email"] for r in pending if "user_id" not in r.data and "email" in r.data}
    known_ids, by_email = await repository.members(ids, emails)
    resolved: list[NewRow] = []
    for row in rows:
        if row.status != PENDING:
            resolved.append(row)
            continue
        raw = row.data.get("user_id")
        user_id = uuid.UUID(raw) if raw else by_email.get(row.data.get("email", ""))
        if user_id is None or (raw and user_id not in known_ids):
            resolved.append(dataclasses.replace(row, status=FAILED, error=NOT_A_MEMBER))
        else:
            resolved.append(dataclasses.replace(row, user_id=user_id))
    return resolved


async def start(
    database: Database,
    temporal: Client,
    settings: Settings,
    principal: Principal,
    tenant_id: uuid.UUID,
    actor_id: uuid.UUID,
    kind: BulkKind,
    upload: ParsedUpload,
) -> tuple[str, int, int]:
    """Store the rows, start the run; ``(workflow id, rows, rows failed at upload)``."""
    operation_id = uuid.uuid4()
    workflow_id = bulk_user_operation_workflow_id(str(operation_id))
    async with transaction(database, tenant_id, user_id=actor_id) as db:
        repository = BulkOperationRepository(db, tenant_id)
        rows = upload.rows
        if kind in ON_MEMBERS:
            rows = await _resolve_members(repository, rows)
        await repository.create(
            operation_id=operation_id,
            kind=kind.value,
            actor_id=actor_id,
            workflow_id=workflow_id,
            rows=rows,
        )
    failed = sum(1 for r in rows if r.status == FAILED)
    try:
        with acting_as(SecurityContext.for_principal(principal)):
            await workflow_calls.start(
                temporal,
                BulkUserOperationWorkflow.run,
                BulkUserOperationInput(
                    operation_id=str(operation_id),
                    tenant_id=str(tenant_id),
                    kind=kind.value,
                    actor_id=str(actor_id),
                    total=len(rows),
                    failed=failed,
                    batch_size=settings.user_bulk_batch_size,
                    parallelism=settings.user_bulk_parallelism,
                    rows_per_run=settings.user_bulk_rows_per_run,
                ),
                id=workflow_id,
                task_queue=settings.task_queue(ServiceName.user),
                errors=WorkflowErrors(
                    call="bulk-user-operation",
                    already_started=lambda: ConflictError("this operation runs already"),
                ),
            )
    except DomainError:
        async with transaction(database, tenant_id, user_id=actor_id) as db:
            await BulkOperationRepository(db, tenant_id).delete(operation_id)
        raise
    return workflow_id, len(rows), failed


async def report(db: DbSession, tenant_id: uuid.UUID, workflow_id: str) -> BulkReport | None:
    """The operation of this tenant run as ``workflow_id`` and its rows (None: no such one)."""
    repository = BulkOperationRepository(db, tenant_id)
    operation = await repository.by_workflow_id(workflow_id)
    if operation is None:
        return None
    counts = await repository.counts(operation.id)
    rows = await repository.rows(operation.id)
    return BulkReport(
        workflow_id=operation.workflow_id,
        kind=operation.kind,
        status=operation.status,
        total=operation.total,
        done=counts.done,
        failed=counts.failed,
        cancelled=counts.cancelled,
        pending=counts.pending,
        created_at=operation.created_at,
        rows=[
            BulkRowOut(
                row_number=r.row_number,
                status=r.status,
                error=r.error,
                user_id=r.user_id,
                email=r.data.get("email"),
            )
            for r in rows
        ],
    )


def report_csv(rows: Iterable[BulkRowOut]) -> str:
    """The report's rows as CSV; a cell that a spreadsheet would run as a formula is quoted with
    a leading apostrophe (CSV injection)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REPORT_COLUMNS)
    for row in rows:
        writer.writerow([_cell(getattr(row, c)) for c in REPORT_COLUMNS])
    return out.getvalue()


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
