"""Tenant rows for the billing tests: a fresh active tenant on the free plan, and reading one."""

from __future__ import annotations

import uuid

from services.common.resources import Resources
from storage.db import transaction
from storage.tenants.models import Tenant
from workflows.tenant.plans import PLANS, Plan

FREE = PLANS[Plan.FREE]


async def new_tenant(resources: Resources, name: str = "Acme") -> uuid.UUID:
    tenant_id = uuid.uuid4()
    async with transaction(resources.database, tenant_id) as db:
        db.add(
            Tenant(
                id=tenant_id,
                slug=f"t-{tenant_id.hex[:20]}",
                name=name,
                status="active",
                plan=Plan.FREE.value,
                seat_quota=FREE.seat_quota,
                storage_quota_bytes=FREE.storage_quota_bytes,
                created_by=uuid.uuid4(),
                idempotency_key=f"test:{tenant_id}",
            )
        )
    return tenant_id


async def tenant_row(resources: Resources, tenant_id: uuid.UUID) -> Tenant:
    async with transaction(resources.database, tenant_id) as db:
        row = await db.get(Tenant, tenant_id)
        assert row is not None
        db.expunge(row)
        return row
