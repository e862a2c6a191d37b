"""A tenant's bulk operations over its users (``users.bulk_operations``) and their rows
(``users.bulk_operation_rows``): stored at upload, read a batch at a time by the workflow, each
row's result written once, and the report read back in row order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, String, cast, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from storage.repository import TenantScopedRepository
from storage.users.models import BulkOperation, BulkOperationRow, DirectoryEntry

#: Rows per INSERT statement of an upload (asyncpg's bind-parameter limit is 32767).
_INSERT_CHUNK = 2_000
PENDING, DONE, FAILED, CANCELLED = "pending", "done", "failed", "cancelled"


@dataclass(frozen=True)
class NewRow:
    row_number: int
    data: dict[str, Any]
    #: ``pending``, or ``failed`` for a row refused at upload (with its ``error``).
    status: str
    error: str | None = None
    user_id: uuid.UUID | None = None


@dataclass(frozen=True)
class RowCounts:
    done: int
    failed: int
    cancelled: int
    pending: int


class BulkOperationRepository(TenantScopedRepository[BulkOperation]):
    model = BulkOperation

    async def create(
        self,
        *,
        operation_id: uuid.UUID,
        kind: str,
        actor_id: uuid.UUID,
        workflow_id: str,
        rows: Sequence[NewRow],
    ) -> BulkOperation:
        operation = BulkOperation(
            id=operation_id,
            kind=kind,
            actor_id=actor_id,
            workflow_id=workflow_id,
            status="running",
            total=len(rows),
        )
        await self.add(operation)
        for start in range(0, len(rows), _INSERT_CHUNK):
            await self.session.execute(
                insert(BulkOperationRow),
                [
                    {
                        "tenant_id": self.tenant_id,
                        "operation_id": operation_id,
                        "row_number": r.row_number,
                        "data": r.data,
                        "status": r.status,
                        "error": r.error,
                        "user_id": r.user_id,
                    }
                    for r in rows[start : start + _INSERT_CHUNK]
                ],
            )
        return operation

    async def by_workflow_id(self, workflow_id: str) -> BulkOperation | None:
        return await self.session.scalar(
            self.base_statement().where(BulkOperation.workflow_id == workflow_id)
        )

    async def pending_rows(
        self, operation_id: uuid.UUID, after: int, limit: int
    ) -> list[BulkOperationRow]:
        result = await self.session.scalars(
            self._rows(operation_id)
            .where(BulkOperationRow.row_number > after, BulkOperationRow.status == PENDING)
            .order_by(BulkOperationRow.row_number)
            .limit(limit)
        )
        return list(result)

    async def rows(
        self, operation_id: uuid.UUID, after: int = 0, limit: int = 20_000
    ) -> list[BulkOperationRow]:
        """The report: every row in upload order."""
        result = await self.session.scalars(
            self._rows(operation_id)
            .where(BulkOperationRow.row_number > after)
            .order_by(BulkOperationRow.row_number)
            .limit(limit)
        )
        return list(result)

    async def record(
        self,
        operation_id: uuid.UUID,
        results: Sequence[tuple[int, str, str | None, uuid.UUID | None]],
    ) -> int:
        """Each ``(row, status, error, user id)`` written if the row is still pending (a retried
        step writes nothing twice); one statement for the batch."""
        if not results:
            return 0
        source = select(
            func.unnest(cast([r[0] for r in results], ARRAY(Integer))).label("row_number"),
            func.unnest(cast([r[1] for r in results], ARRAY(String))).label("status"),
            func.unnest(cast([r[2] for r in results], ARRAY(String))).label("error"),
            func.unnest(cast([r[3] for r in results], ARRAY(UUID(as_uuid=True)))).label("user_id"),
        ).subquery()
        written = await self.session.execute(
            update(BulkOperationRow)
            .where(
                BulkOperationRow.tenant_id == self.tenant_id,
                BulkOperationRow.operation_id == operation_id,
                BulkOperationRow.row_number == source.c.row_number,
                BulkOperationRow.status == PENDING,
            )
            .values(
                status=source.c.status,
                error=source.c.error,
                user_id=source.c.user_id,
                updated_at=func.now(),
            )
            .returning(BulkOperationRow.row_number)
            .execution_options(synchronize_session=False)
        )
        return len(list(written.scalars()))

    async def finish(self, operation_id: uuid.UUID, status: str) -> RowCounts:
        """The operation ``completed`` or ``cancelled``; on cancel the rows never run are marked
        ``cancelled``. Returns the rows' counts."""
        if status == CANCELLED:
            await self.session.execute(
                update(BulkOperationRow)
                .where(
                    BulkOperationRow.tenant_id == self.tenant_id,
                    BulkOperationRow.operation_id == operation_id,
                    BulkOperationRow.status == PENDING,
                )
                .values(status=CANCELLED, updated_at=func.now())
                .execution_options(synchronize_session=False)
            )
        await self.session.execute(
            update(BulkOperation)
            .where(BulkOperation.tenant_id == self.tenant_id, BulkOperation.id == operation_id)
            .values(status=status)
            .execution_options(synchronize_session=False)
        )
        return await self.counts(operation_id)

    async def counts(self, operation_id: uuid.UUID) -> RowCounts:
        result = await self.session.execute(
            select(BulkOperationRow.status, func.count())
            .where(
                BulkOperationRow.tenant_id == self.tenant_id,
                BulkOperationRow.operation_id == operation_id,
            )
            .group_by(BulkOperationRow.status)
        )
        by = {status: int(n) for status, n in result.all()}
        return RowCounts(
            by.get(DONE, 0), by.get(FAILED, 0), by.get(CANCELLED, 0), by.get(PENDING, 0)
        )

    async def delete(self, operation_id: uuid.UUID) -> None:
        """An operation whose run could not start, and its rows (cascade)."""
        await self.session.execute(
            delete(BulkOperation).where(
                BulkOperation.tenant_id == self.tenant_id, BulkOperation.id == operation_id
            )
        )

    async def members(
        self, user_ids: set[uuid.UUID], emails: set[str]
    ) -> tuple[set[uuid.UUID], dict[str, uuid.UUID]]:
        """Which of ``user_ids`` are in this tenant's directory, and the member of each of
        ``emails`` (as the directory copies the profile's address, lower case)."""
        known: set[uuid.UUID] = set()
        by_email: dict[str, uuid.UUID] = {}
        if user_ids:
            result = await self.session.scalars(
                select(DirectoryEntry.user_id).where(
                    DirectoryEntry.tenant_id == self.tenant_id,
                    DirectoryEntry.user_id.in_(user_ids),
                )
            )
            known = set(result)
        if emails:
            pairs = await self.session.execute(
                select(func.lower(DirectoryEntry.email), DirectoryEntry.user_id).where(
                    DirectoryEntry.tenant_id == self.tenant_id,
                    func.lower(DirectoryEntry.email).in_(emails),
                )
            )
            by_email = {email: user_id for email, user_id in pairs.all()}
        return known, by_email

    def _rows(self, operation_id: uuid.UUID) -> Any:
        return select(BulkOperationRow).where(
            BulkOperationRow.tenant_id == self.tenant_id,
            BulkOperationRow.operation_id == operation_id,
        )
