"""Fixtures of the billing tests: a tenant worker running ``tenant_upgrade`` with the Stripe
provider against localstripe (``stripe_billing`` in tests/tenant/conftest.py), beside a file
worker for the run's storage-policy step."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client

from services.common.resources import Resources
from services.common.settings import ServiceName, Settings
from services.common.temporal import build_worker
from services.file.quota.activities import QuotaActivities
from services.tenant.billing.activities import UpgradeActivities
from services.tenant.billing.stripe_provider import StripeBillingProvider
from workflows.tenant.tenant_upgrade import TenantUpgradeWorkflow


@pytest.fixture(scope="module")
async def upgrade_queue(
    temporal: Client,
    settings: Settings,
    tenant_resources: Resources,
    file_resources: Resources,
    stripe_billing: StripeBillingProvider,
) -> AsyncIterator[str]:
    """The task queue of a tenant worker running ``tenant_upgrade`` on localstripe (one per
    test module, on its own prefix)."""
    local = settings.model_copy(update={"task_queue_prefix": f"b{uuid.uuid4().hex[:8]}"})
    queue = local.task_queue(ServiceName.tenant)
    worker = build_worker(
        temporal,
        local,
        task_queue=queue,
        workflows=[TenantUpgradeWorkflow],
        activities=UpgradeActivities(tenant_resources, provider=stripe_billing).all(),
    )
    files = build_worker(
        temporal,
        local,
        task_queue=local.task_queue(ServiceName.file),
        activities=QuotaActivities(file_resources).all(),
    )
    tasks = [asyncio.create_task(worker.run()), asyncio.create_task(files.run())]
    yield queue
    await asyncio.gather(worker.shutdown(), files.shutdown())
    await asyncio.gather(*tasks, return_exceptions=True)
