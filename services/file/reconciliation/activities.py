"""``file.reconcile_quota`` (queue ``<prefix>-file``): the tenant's storage policy row
(``files.storage_policies.quota_bytes``) compared with the owner's quota; ids only answered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.common.reconciliation import checked, require_platform
from services.common.resources import Resources
from storage.db import transaction
from storage.files.repository import StoragePolicyRepository
from workflows.reconciliation.contracts import COMPARE_QUOTA, CompareOutput, CompareQuotaInput
from workflows.reconciliation.rules import parse_id


class QuotaReconciliationActivities:
    def __init__(self, resources: Resources) -> None:
        self.database = resources.database

    @COMPARE_QUOTA.implement
    async def reconcile_quota(self, input: CompareQuotaInput) -> CompareOutput:
        require_platform()
        tenant_id = checked(lambda: parse_id(input.tenant_id, "tenant id"))
        async with transaction(self.database, tenant_id) as db:
            policy = await StoragePolicyRepository(db, tenant_id).current()
        held = policy.quota_bytes if policy is not None else None
        key = str(tenant_id)
        if input.quota_bytes is None:
            return CompareOutput(checked=int(held is not None), extra=[key] if held else [])
        if held is None:
            return CompareOutput(checked=1, missing=[key])
        return CompareOutput(checked=1, stale=[key] if held != input.quota_bytes else [])

    def all(self) -> list[Callable[..., Any]]:
        return [self.reconcile_quota]
