"""Contracts of ``bulk_user_operation`` (docs/users.md, "Bulk operations"): the operations, the
status of a row, and the user service's own steps (queue ``<prefix>-user``) that read a batch of
the uploaded rows and record their results. The rows live in ``users.bulk_operation_rows``; the
workflow only ever carries one batch of them, never the whole upload."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from workflows.common.contracts import ActivityContract
from workflows.user.contracts import USER

#: Most rows one upload may hold, and its most bytes (CSV or JSON).
MAX_ROWS: Final = 10_000
MAX_BYTES: Final = 5 * 1024 * 1024


class BulkKind(StrEnum):
    """What a run does to each row (stable: histories, ids and stored rows carry it)."""

    IMPORT = "import"
    INVITE = "invite"
    CHANGE_ROLE = "change_role"
    DEACTIVATE = "deactivate"
    #: Remove from the tenant (``membership_change`` ``remove``); the account stays.
    DELETE = "delete"


#: The operations whose rows name an existing member (by ``user_id`` or ``email``).
ON_MEMBERS: Final = frozenset({BulkKind.CHANGE_ROLE, BulkKind.DEACTIVATE, BulkKind.DELETE})


class RowStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    #: Not run: the operation was cancelled before this row's turn.
    CANCELLED = "cancelled"


class OperationStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@dataclass
class BulkRow:
    """One uploaded row, as the workflow needs it (personal data: the payload codec encrypts
    activity results and child inputs)."""

    row_number: int
    email: str | None = None
    user_id: str | None = None
    role: str | None = None
    display_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    locale: str | None = None
    time_zone: str | None = None


@dataclass
class RowResult:
    row_number: int
    #: ``RowStatus``: ``done`` or ``failed``.
    status: str
    error: str | None = None
    user_id: str | None = None


@dataclass
class LoadBulkRowsInput:
    operation_id: str
    tenant_id: str
    #: Rows after this row number (the run's cursor), pending ones only.
    after: int
    limit: int
    idempotency_key: str


@dataclass
class LoadBulkRowsOutput:
    rows: list[BulkRow] = field(default_factory=list)


LOAD_BULK_ROWS = ActivityContract(
    "user.load_bulk_rows", USER, LoadBulkRowsInput, LoadBulkRowsOutput
)


@dataclass
class RecordBulkResultsInput:
    operation_id: str
    tenant_id: str
    results: list[RowResult]
    idempotency_key: str


@dataclass
class RecordBulkResultsOutput:
    recorded: int


#: Idempotent: a row's result is written only while the row is pending.
RECORD_BULK_RESULTS = ActivityContract(
    "user.record_bulk_results", USER, RecordBulkResultsInput, RecordBulkResultsOutput
)


@dataclass
class FinishBulkOperationInput:
    operation_id: str
    tenant_id: str
    #: ``OperationStatus``: ``completed``, or ``cancelled`` (the rows still pending are marked
    #: ``cancelled``: never run).
    status: str
    idempotency_key: str


@dataclass
class FinishBulkOperationOutput:
    done: int
    failed: int
    cancelled: int


FINISH_BULK_OPERATION = ActivityContract(
    "user.finish_bulk_operation", USER, FinishBulkOperationInput, FinishBulkOperationOutput
)
