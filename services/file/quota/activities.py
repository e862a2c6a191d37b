"""The tenant's storage policy, written by the file service when a tenant flow sets or changes
its plan (queue ``<prefix>-file``). Only those flows run them (``require_flow``); the write is
version-guarded (``StoragePolicyRepository.put_versioned``) so it is idempotent and a late
retry of an older plan change never overwrites a newer one."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.common.resources import Resources
from services.common.security_context import require_context, require_flow
from storage.db import transaction
from storage.files.repository import StoragePolicyRepository
from workflows.common.errors import business_error
from workflows.file import quota_contracts as contracts
from workflows.tenant.contracts import TenantError, TenantWorkflow

SETTING = (TenantWorkflow.TENANT_PROVISIONING, TenantWorkflow.TENANT_UPGRADE)
#: Largest quota a plan may carry (1 PiB): beyond it an input is a mistake, not a plan.
MAX_QUOTA_BYTES = 1024**5


def _tenant(tenant_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(tenant_id)
    except ValueError as error:
        raise business_error(TenantError.INVALID_INPUT, "invalid tenant id") from error


def _version(text: str) -> datetime:
    try:
        version = datetime.fromisoformat(text)
    except ValueError as error:
        raise business_error(TenantError.INVALID_INPUT, "invalid policy version") from error
    if version.tzinfo is None:
        raise business_error(TenantError.INVALID_INPUT, "the policy version needs a time zone")
    return version


class QuotaActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    @contracts.PUT_STORAGE_POLICY.implement
    async def put_storage_policy(
        self, input: contracts.PutStoragePolicyInput
    ) -> contracts.PutStoragePolicyOutput:
        require_flow(require_context(), *SETTING)
        tenant_id = _tenant(input.tenant_id)
        version = _version(input.version)
        if not 0 < input.quota_bytes <= MAX_QUOTA_BYTES:
            raise business_error(TenantError.INVALID_INPUT, "quota out of range")
        async with transaction(self.resources.database, tenant_id) as db:
            applied = await StoragePolicyRepository(db, tenant_id).put_versioned(
                input.quota_bytes, input.allowed_types, version
            )
        return contracts.PutStoragePolicyOutput(applied=applied)

    @contracts.REMOVE_STORAGE_POLICY.implement
    async def remove_storage_policy(
        self, input: contracts.RemoveStoragePolicyInput
    ) -> contracts.RemoveStoragePolicyOutput:
        require_flow(require_context(), TenantWorkflow.TENANT_PROVISIONING)
        tenant_id = _tenant(input.tenant_id)
        async with transaction(self.resources.database, tenant_id) as db:
            removed = await StoragePolicyRepository(db, tenant_id).remove()
        return contracts.RemoveStoragePolicyOutput(removed=removed)

    def all(self) -> list[Callable[..., Any]]:
        return [self.put_storage_policy, self.remove_storage_policy]
