"""The user service's own steps of ``bulk_user_operation`` (queue ``<prefix>-user``,
``workflows/user/bulk_contracts.py``): a batch of the stored rows read, a batch's results written,
the operation finished. Only that flow runs them, in the tenant its security context names, for
the operation's own actor."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from services.common.resources import Resources
from services.common.security_context import ActorKind, SecurityContext, denied, require_flow_step
from storage.db import transaction
from storage.users.bulk_operations import BulkOperationRepository
from storage.users.models import BulkOperation, BulkOperationRow
from workflows.common.errors import business_error
from workflows.user import bulk_contracts as contracts
from workflows.user.bulk_contracts import BulkRow, OperationStatus, RowStatus
from workflows.user.contracts import UserError, UserWorkflow

FLOW = UserWorkflow.BULK_USER_OPERATION
_ROW_FIELDS = (
    "email",
    "user_id",
    "role",
    "display_name",
    "given_name",
    "family_name",
    "locale",
    "time_zone",
)


def _uuid(raw: str | None, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise business_error(UserError.INVALID_INPUT, f"invalid {what}") from None


def scope_of(context: SecurityContext, tenant_raw: str) -> uuid.UUID:
    """The input's tenant, which must be the run's (a user acts in their token's tenant)."""
    tenant_id = _uuid(tenant_raw, "tenant id")
    if context.actor != ActorKind.system and (
        context.tenant_id is None or _uuid(context.tenant_id, "tenant id") != tenant_id
    ):
        raise denied("the run acts in another tenant than the input names")
    return tenant_id


def _check_actor(context: SecurityContext, operation: BulkOperation | None) -> BulkOperation:
    if operation is None:
        raise business_error(UserError.USER_NOT_FOUND, "no such bulk operation in this tenant")
    if not context.acts_for(str(operation.actor_id)):
        raise denied("the run acts for another user than the operation's")
    return operation


class BulkOperationActivities:
    def __init__(self, resources: Resources) -> None:
        self.database = resources.database

    async def _operation(
        self, repository: BulkOperationRepository, context: SecurityContext, raw: str
    ) -> BulkOperation:
        return _check_actor(context, await repository.get(_uuid(raw, "operation id")))

    @contracts.LOAD_BULK_ROWS.implement
    async def load_bulk_rows(
        self, input: contracts.LoadBulkRowsInput
    ) -> contracts.LoadBulkRowsOutput:
        context = require_flow_step(input.idempotency_key, FLOW)
        tenant_id = scope_of(context, input.tenant_id)
        limit = max(1, min(input.limit, 1_000))
        async with transaction(self.database, tenant_id) as db:
            repository = BulkOperationRepository(db, tenant_id)
            operation = await self._operation(repository, context, input.operation_id)
            rows = await repository.pending_rows(operation.id, input.after, limit)
        return contracts.LoadBulkRowsOutput(rows=[_bulk_row(row) for row in rows])

    @contracts.RECORD_BULK_RESULTS.implement
    async def record_bulk_results(
        self, input: contracts.RecordBulkResultsInput
    ) -> contracts.RecordBulkResultsOutput:
        context = require_flow_step(input.idempotency_key, FLOW)
        tenant_id = scope_of(context, input.tenant_id)
        results = []
        for r in input.results:
            if r.status not in (RowStatus.DONE, RowStatus.FAILED):
                raise business_error(UserError.INVALID_INPUT, "a result is done or failed")
            user_id = _uuid(r.user_id, "user id") if r.user_id else None
            results.append((r.row_number, r.status, (r.error or None) and r.error[:500], user_id))
        async with transaction(self.database, tenant_id) as db:
            repository = BulkOperationRepository(db, tenant_id)
            operation = await self._operation(repository, context, input.operation_id)
            recorded = await repository.record(operation.id, results)
        return contracts.RecordBulkResultsOutput(recorded=recorded)

    @contracts.FINISH_BULK_OPERATION.implement
    async def finish_bulk_operation(
        self, input: contracts.FinishBulkOperationInput
    ) -> contracts.FinishBulkOperationOutput:
        context = require_flow_step(input.idempotency_key, FLOW)
        tenant_id = scope_of(context, input.tenant_id)
        try:
            status = OperationStatus(input.status)
        except ValueError:
            raise business_error(UserError.INVALID_INPUT, "unknown operation status") from None
        async with transaction(self.database, tenant_id) as db:
            repository = BulkOperationRepository(db, tenant_id)
            operation = await self._operation(repository, context, input.operation_id)
            counts = await repository.finish(operation.id, status.value)
        return contracts.FinishBulkOperationOutput(
            done=counts.done, failed=counts.failed, cancelled=counts.cancelled
        )

    def all(self) -> list[Callable[..., Any]]:
        return [self.load_bulk_rows, self.record_bulk_results, self.finish_bulk_operation]


def _bulk_row(row: BulkOperationRow) -> BulkRow:
    fields = {k: _text(row.data.get(k)) for k in _ROW_FIELDS}
    if row.user_id is not None:  # resolved at upload (a member's row named by address)
        fields["user_id"] = str(row.user_id)
    return BulkRow(row_number=row.row_number, **fields)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
