"""Reading a tenant's storage policy row for the quota tests (under that tenant's RLS scope)."""

from __future__ import annotations

import uuid

from services.common.resources import Resources
from storage.db import transaction
from storage.files.models import StoragePolicy
from storage.files.repository import StoragePolicyRepository


async def policy_of(resources: Resources, tenant_id: uuid.UUID | str) -> StoragePolicy | None:
    tid = uuid.UUID(str(tenant_id))
    async with transaction(resources.database, tid) as db:
        row = await StoragePolicyRepository(db, tid).current()
        if row is not None:
            db.expunge(row)
        return row
