"""The storage policy row itself on the real PostgreSQL: the version guard (a retry changes
nothing, a late write of an older plan change never overwrites a newer one) and row-level
security (a tenant's transaction neither sees nor writes another tenant's row)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.common.resources import Resources
from storage.db import transaction
from storage.files.repository import StoragePolicyRepository
from tests.file.quota.policy import policy_of

GIB = 1024**3
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def _put(resources: Resources, tenant_id: uuid.UUID, quota: int, at: datetime) -> bool:
    async with transaction(resources.database, tenant_id) as db:
        return await StoragePolicyRepository(db, tenant_id).put_versioned(quota, None, at)


async def test_a_late_older_write_never_overwrites_a_newer_one(file_resources: Resources) -> None:
    tenant_id = uuid.uuid4()
    assert await _put(file_resources, tenant_id, 100 * GIB, T0 + timedelta(minutes=5))
    # The retry of an earlier plan change (decided at T0) arrives after the newer one.
    assert not await _put(file_resources, tenant_id, 1 * GIB, T0)
    policy = await policy_of(file_resources, tenant_id)
    assert policy is not None and policy.quota_bytes == 100 * GIB


async def test_a_retried_write_changes_nothing_and_a_newer_one_wins(
    file_resources: Resources,
) -> None:
    tenant_id = uuid.uuid4()
    assert await _put(file_resources, tenant_id, 1 * GIB, T0)
    assert not await _put(file_resources, tenant_id, 1 * GIB, T0)
    assert await _put(file_resources, tenant_id, 1024 * GIB, T0 + timedelta(seconds=1))
    policy = await policy_of(file_resources, tenant_id)
    assert policy is not None and policy.quota_bytes == 1024 * GIB
    assert policy.updated_at == T0 + timedelta(seconds=1)


async def test_a_tenant_sees_and_writes_only_its_own_policy(file_resources: Resources) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    await _put(file_resources, theirs, 5 * GIB, T0)
    async with transaction(file_resources.database, mine) as db:
        seen = await db.scalar(
            text("SELECT count(*) FROM files.storage_policies WHERE tenant_id = :t"),
            {"t": theirs},
        )
        raised = await db.execute(
            text("UPDATE files.storage_policies SET quota_bytes = 1 << 50 WHERE tenant_id = :t"),
            {"t": theirs},
        )
        deleted = await db.execute(
            text("DELETE FROM files.storage_policies WHERE tenant_id = :t"), {"t": theirs}
        )
    assert (seen, raised.rowcount, deleted.rowcount) == (0, 0, 0)  # type: ignore[attr-defined]
    with pytest.raises(DBAPIError, match="row-level security"):
        async with transaction(file_resources.database, mine) as db:
            await db.execute(
                text(
                    "INSERT INTO files.storage_policies (tenant_id, quota_bytes) "
                    "VALUES (:t, 1 << 50)"
                ),
                {"t": theirs},
            )
    policy = await policy_of(file_resources, theirs)
    assert policy is not None and policy.quota_bytes == 5 * GIB
