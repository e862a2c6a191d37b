"""Contract of the file step of ``user_deactivation`` (a user service workflow): the files a
deactivated user owns kept or transferred to another user, per policy.

The file service keeps no per-user file rows yet, so the activity changes nothing and answers
how many files it would have transferred (0); the contract is what a later file model fills."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass
class TransferUserFilesOutput:
    transferred: int


TRANSFER_USER_FILES = ActivityContract(
    "file.transfer_user_files", FILE, TransferUserFilesInput, TransferUserFilesOutput
)
