"""Contract of the file step of ``user_deactivation`` (a user service workflow): the files a
deactivated user owns (``files.files.owner_id``) kept or transferred to another user, per
policy, and moved back on reactivation or compensation (only the files a deactivation moved,
recorded per run in ``files.file_transfers``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from workflows.common.contracts import ActivityContract
from workflows.file.tenant_storage_contracts import FILE


class FilePolicy(StrEnum):
    """What a deactivation does with the user's files (stable: histories carry it)."""

    KEEP = "keep"
    TRANSFER = "transfer"


@dataclass
class TransferUserFilesInput:
    user_id: str
    #: ``FilePolicy``.
    policy: str
    #: The new owner (``transfer``); on reactivation the files come back to ``user_id``.
    to_user_id: str | None
    idempotency_key: str
    #: True: undo an earlier transfer (reactivation, compensation).
    restore: bool = False
    #: The tenants whose files move (``transfer``); a restore finds its own from the records.
    tenant_ids: list[str] = field(default_factory=list)


@dataclass
class TransferUserFilesOutput:
    #: Files moved (to the new owner, or back on a restore).
    transferred: int


TRANSFER_USER_FILES = ActivityContract(
    "file.transfer_user_files", FILE, TransferUserFilesInput, TransferUserFilesOutput
)

#: ``user_deactivation`` names the tenants whose files its transfer moves.
FILE_TRANSFER_PATCH = "user-deactivation-file-transfer"
