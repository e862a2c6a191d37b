"""``file.transfer_user_files`` (queue ``<prefix>-file``), the file step of ``user_deactivation``.

The file service keeps no per-user file rows yet (only a tenant's storage prefix, export and
erasure), so there is nothing to transfer: the step checks its input and who runs it, changes
nothing and answers ``transferred=0``. When files get owners, this is where ``transfer`` moves
them to ``to_user_id`` (and ``restore`` moves back the ones this flow moved, keyed by the run)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from services.common.resources import Resources
from services.common.security_context import require_flow_step
from workflows.common.errors import business_error
from workflows.file import user_files_contracts as contracts
from workflows.file.user_files_contracts import FilePolicy
from workflows.user.contracts import UserError, UserWorkflow


def _check_id(raw: str | None, what: str) -> None:
    try:
        uuid.UUID(str(raw))
    except ValueError:
        raise business_error(UserError.INVALID_INPUT, f"invalid {what}") from None


class UserFilesActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    @contracts.TRANSFER_USER_FILES.implement
    async def transfer_user_files(
        self, input: contracts.TransferUserFilesInput
    ) -> contracts.TransferUserFilesOutput:
        require_flow_step(input.idempotency_key, UserWorkflow.USER_DEACTIVATION)
        _check_id(input.user_id, "user id")
        try:
            policy = FilePolicy(input.policy)
        except ValueError:
            raise business_error(UserError.INVALID_INPUT, "unknown file policy") from None
        if policy == FilePolicy.TRANSFER:
            _check_id(input.to_user_id, "new owner")
        return contracts.TransferUserFilesOutput(transferred=0)

    def all(self) -> list[Callable[..., Any]]:
        return [self.transfer_user_files]
