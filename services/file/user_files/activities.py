"""``file.transfer_user_files`` (queue ``<prefix>-file``), the file step of ``user_deactivation``.

``keep``: nothing moves. ``transfer``: in each tenant of the input, the user's live files
(``files.files.owner_id``) are recorded under the run (``files.file_transfers``, key
``<workflow id>:<run id>``) and given to ``to_user_id``. ``restore`` moves back only recorded
files: the ones this very run moved if it moved any (its compensation), else the ones of the
user's transfers not yet restored (a reactivation, a later run of the same workflow id), and only
while their new owner still owns them. Both are idempotent (a retry finds its records)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from temporalio import activity

from services.common.resources import Resources
from services.common.security_context import require_flow_step
from storage.db import transaction
from storage.files.transfers import pending_transfers, restore_files, transfer_files
from workflows.common.errors import business_error
from workflows.file import user_files_contracts as contracts
from workflows.file.user_files_contracts import FilePolicy
from workflows.user.contracts import UserError, UserWorkflow

#: Tenants one call may name (a user's memberships, bounded).
MAX_TENANTS = 1000


def _id(raw: str | None, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise business_error(UserError.INVALID_INPUT, f"invalid {what}") from None


def _run_key() -> str:
    info = activity.info()
    return f"{info.workflow_id}:{info.workflow_run_id}"


class UserFilesActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    @contracts.TRANSFER_USER_FILES.implement
    async def transfer_user_files(
        self, input: contracts.TransferUserFilesInput
    ) -> contracts.TransferUserFilesOutput:
        require_flow_step(input.idempotency_key, UserWorkflow.USER_DEACTIVATION)
        user_id = _id(input.user_id, "user id")
        try:
            policy = FilePolicy(input.policy)
        except ValueError:
            raise business_error(UserError.INVALID_INPUT, "unknown file policy") from None
        if len(input.tenant_ids) > MAX_TENANTS:
            raise business_error(UserError.INVALID_INPUT, "too many tenants")
        tenants = [_id(t, "tenant id") for t in dict.fromkeys(input.tenant_ids)]
        if input.restore:  # whatever the policy now: what was moved comes back
            return contracts.TransferUserFilesOutput(transferred=await self._restore(user_id))
        if policy == FilePolicy.KEEP:
            return contracts.TransferUserFilesOutput(transferred=0)
        to_user = _id(input.to_user_id, "new owner")
        if to_user == user_id:
            raise business_error(UserError.INVALID_INPUT, "the new owner is the user")
        moved = 0
        for tenant_id in tenants:
            async with transaction(self.resources.database, tenant_id) as db:
                moved += await transfer_files(db, tenant_id, user_id, to_user, _run_key())
        return contracts.TransferUserFilesOutput(transferred=moved)

    async def _restore(self, user_id: uuid.UUID) -> int:
        async with transaction(self.resources.database, user_id=user_id) as db:
            pending = await pending_transfers(db, user_id)
        mine = _run_key()
        if any(mine in keys for keys in pending.values()):
            pending = {t: [mine] for t, keys in pending.items() if mine in keys}
        back = 0
        for tenant_id, keys in pending.items():
            async with transaction(self.resources.database, tenant_id) as db:
                back += await restore_files(db, tenant_id, user_id, keys)
        return back

    def all(self) -> list[Callable[..., Any]]:
        return [self.transfer_user_files]
