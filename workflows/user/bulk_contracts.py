"""Contracts of ``bulk_user_operation`` (docs/users.md, "Bulk operations"): the operations, the
status of a row, and the user service's own steps (queue ``<prefix>-user``) that read a batch of
the uploaded rows and record their results. The rows live in ``users.bulk_operation_rows``; the
workflow only ever carries one batch of them, never the whole upload."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
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


# --- the user service's part of the batched import (``bulk-import-batched``) ---------------


@dataclass
class MemberSetupRow:
    """A row whose account and membership the batch has: the user service reads the row's
    names, locale and time zone from ``users.bulk_operation_rows`` by its number (ids only in
    the payload)."""

    row_number: int
    user_id: str
    role: str
    #: The account was just created without a password (the checklist and the mail say so).
    needs_password: bool = False


@dataclass
class PrepareMembersInput:
    operation_id: str
    tenant_id: str
    rows: list[MemberSetupRow]
    #: The batch's key; row ``n`` is set up under ``<key>:row:<n>``.
    idempotency_key: str


@dataclass
class SetupOutcome:
    row_number: int
    #: True when this batch (under the row's key) set the member up; False: set up before.
    created: bool = False
    error: str | None = None


@dataclass
class PrepareMembersOutput:
    outcomes: list[SetupOutcome] = field(default_factory=list)


#: Profiles (created or completed), default preferences, the checklist (``users.first_runs``)
#: and the directory entries of a batch, in one transaction; idempotent per row.
PREPARE_MEMBERS = ActivityContract(
    "user.bulk_prepare_members", USER, PrepareMembersInput, PrepareMembersOutput
)


@dataclass
class UndoMembersInput:
    tenant_id: str
    user_ids: list[str]
    #: ``user.bulk_prepare_members``' batch key: only what it created goes.
    prepared_key: str


@dataclass
class UndoMembersOutput:
    removed: int


UNDO_MEMBERS = ActivityContract("user.bulk_undo_members", USER, UndoMembersInput, UndoMembersOutput)


@dataclass
class WelcomeRow:
    row_number: int
    user_id: str
    needs_password: bool = False


@dataclass
class SendWelcomesInput:
    tenant_id: str
    tenant_name: str
    rows: list[WelcomeRow]
    #: The batch's key; row ``n``'s mail carries ``<key>:row:<n>`` as its dedup key.
    idempotency_key: str


@dataclass
class MailOutcome:
    row_number: int
    #: False when this member's welcome had gone out already (a retry mails nobody twice).
    sent: bool = False
    error: str | None = None


@dataclass
class SendWelcomesOutput:
    outcomes: list[MailOutcome] = field(default_factory=list)


#: The batch's welcome mails in each person's locale; a mailed row is recorded at once
#: (``users.first_runs.welcome_sent_at``), so a retried call mails nobody twice.
SEND_WELCOMES = ActivityContract(
    "user.bulk_send_welcome_mails",
    USER,
    SendWelcomesInput,
    SendWelcomesOutput,
    start_to_close=timedelta(minutes=5),
)
