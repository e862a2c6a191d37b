"""``user.reconcile_directory`` (queue ``<prefix>-user``): the directory entries of one tenant
compared (role and status) with the tenant service's batch of memberships over the same key
range. Reads only."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from services.common.reconciliation import checked, key_range, require_platform
from services.common.resources import Resources
from storage.db import transaction
from storage.users.reconciliation import entries_between
from workflows.reconciliation.contracts import COMPARE_DIRECTORY, CompareInput, CompareOutput
from workflows.reconciliation.rules import drift_of, parse_id


class DirectoryReconciliationActivities:
    def __init__(self, resources: Resources) -> None:
        self.database = resources.database

    @COMPARE_DIRECTORY.implement
    async def reconcile_directory(self, input: CompareInput) -> CompareOutput:
        require_platform()
        tenant_id = checked(lambda: parse_id(input.tenant_id, "tenant id"))
        after, upto = key_range(input.after, input.upto)
        expected: dict[uuid.UUID, object] = checked(
            lambda: {parse_id(m.user_id, "user id"): (m.role, m.status) for m in input.members}
        )
        async with transaction(self.database, tenant_id) as db:
            held: dict[uuid.UUID, object] = dict(await entries_between(db, tenant_id, after, upto))
        return drift_of(expected, held)

    def all(self) -> list[Callable[..., Any]]:
        return [self.reconcile_directory]
