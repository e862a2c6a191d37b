"""``data_migration``'s ``quotas`` copy on the real stack: the file service's storage policy put
out of step with the tenant's plan quota directly in the database is reported by a dry run
(which changes nothing) and fixed by a repair; a missing policy row is written back. With
``ADX_RECORD_HISTORIES=1`` the repair is the replay history
(``tests/histories/data_migration.quotas.json``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, update
from temporalio.client import Client

from services.common.data_migration import start_data_migration
from services.common.resources import Resources
from storage.db import transaction
from storage.files.models import StoragePolicy
from storage.files.repository import StoragePolicyRepository
from storage.tenants.models import Tenant
from tests.auth.mail_flows import record_history
from tests.auth.users import AuthUser
from tests.workflow.reconciliation.members import provisioned
from tests.workflow.reconciliation.test_data_migration import by_copy, reconcile
from workflows.reconciliation.data_migration import DataMigrationInput


async def policy_quota(files: Resources, tenant_id: uuid.UUID) -> int | None:
    async with transaction(files.database, tenant_id) as db:
        policy = await StoragePolicyRepository(db, tenant_id).current()
        return policy.quota_bytes if policy is not None else None


async def plan_quota(tenants: Resources, tenant_id: uuid.UUID) -> int:
    async with transaction(tenants.database, tenant_id) as db:
        tenant = await db.get(Tenant, tenant_id)
        assert tenant is not None
        return tenant.storage_quota_bytes


async def test_a_drifted_quota_is_reported_then_repaired(
    temporal: Client, reconciliation_stack: Any, file_resources: Resources, user: AuthUser
) -> None:
    async with reconciliation_stack() as stack:
        tenant_id = await provisioned(temporal, stack, user.id)
        plan = await plan_quota(stack.tenants, tenant_id)
        assert await policy_quota(file_resources, tenant_id) == plan  # provisioned in step
        async with transaction(file_resources.database, tenant_id) as db:
            await db.execute(
                update(StoragePolicy)
                .where(StoragePolicy.tenant_id == tenant_id)
                .values(quota_bytes=plan * 10)
            )

        dry = by_copy(await reconcile(temporal, stack, tenant_id, copies=["quotas"]))["quotas"]
        assert (dry.checked, dry.missing, dry.extra, dry.stale, dry.repaired) == (1, 0, 0, 1, 0)
        assert dry.sample == [str(tenant_id)] and dry.total == 1
        assert await policy_quota(file_resources, tenant_id) == plan * 10, "a dry run wrote"

        handle = await start_data_migration(
            temporal,
            DataMigrationInput(str(tenant_id), mode="repair", copies=["quotas"], requested_by="t"),
            task_queue=stack.workflow,
        )
        repaired = by_copy(await handle.result())["quotas"]
        await record_history(handle, "data_migration.quotas")
        again = await reconcile(temporal, stack, tenant_id)

    assert repaired.stale == 1 and repaired.repaired == 1
    assert await policy_quota(file_resources, tenant_id) == plan
    assert again.drift == 0, again


async def test_a_missing_policy_is_written_back(
    temporal: Client, reconciliation_stack: Any, file_resources: Resources, user: AuthUser
) -> None:
    async with reconciliation_stack() as stack:
        tenant_id = await provisioned(temporal, stack, user.id)
        plan = await plan_quota(stack.tenants, tenant_id)
        async with transaction(file_resources.database, tenant_id) as db:
            await db.execute(delete(StoragePolicy).where(StoragePolicy.tenant_id == tenant_id))

        result = await reconcile(temporal, stack, tenant_id, mode="repair", copies=["quotas"])

    report = by_copy(result)["quotas"]
    assert (report.missing, report.repaired) == (1, 1)
    assert await policy_quota(file_resources, tenant_id) == plan
