"""The tenant's storage policy as its plan sets it, on the real stack: ``tenant_provisioning``
writes the plan's quota row through the file service (and its compensation removes it), a paid
``tenant_upgrade`` writes the new plan's. With ``ADX_RECORD_HISTORIES=1`` these runs are the
replay histories ``tests/histories/tenant_provisioning.v2-policy.json`` and
``tenant_upgrade.v2-policy.json``."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from tests.auth.mail_flows import record_history
from tests.auth.users import create_user
from tests.file.quota.policy import policy_of
from tests.tenant.billing.tenants import new_tenant
from tests.tenant.workflows.stack import failing, scheduled_tenant_id, start_provisioning
from workflows.tenant.plans import PLANS, Plan
from workflows.tenant.provisioning_contracts import ACTIVATE_TENANT
from workflows.tenant.tenant_provisioning import TenantProvisioningResult
from workflows.tenant.tenant_upgrade import (
    TenantUpgradeInput,
    TenantUpgradeWorkflow,
    tenant_upgrade_workflow_id,
)

pytestmark = pytest.mark.timeout(120)


def _slug() -> str:
    return f"q-{uuid.uuid4().hex[:10]}"


async def test_provisioning_writes_the_plans_quota(
    temporal: Client, tenant_stack: Any, auth_runtime: AuthRuntime, file_resources: Resources
) -> None:
    owner = await create_user(auth_runtime)
    async with tenant_stack() as stack:
        handle = await start_provisioning(temporal, stack, owner.id, _slug(), plan="business")
        result: TenantProvisioningResult = await handle.result()
        await record_history(handle, "tenant_provisioning.v2-policy")

    policy = await policy_of(file_resources, result.tenant_id)
    assert policy is not None, "provisioning wrote no storage policy"
    assert policy.quota_bytes == PLANS[Plan.BUSINESS].storage_quota_bytes
    assert policy.allowed_types is None


async def test_a_failed_provisioning_leaves_no_policy(
    temporal: Client, tenant_stack: Any, auth_runtime: AuthRuntime, file_resources: Resources
) -> None:
    owner = await create_user(auth_runtime)
    async with tenant_stack(replace={ACTIVATE_TENANT.name: failing(ACTIVATE_TENANT)}) as stack:
        handle = await start_provisioning(temporal, stack, owner.id, _slug(), plan="team")
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        tenant_id = await scheduled_tenant_id(temporal, handle)
        history = await handle.fetch_history()
    assert tenant_id is not None
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name for e in history.events
    ]
    assert "file.put_storage_policy" in scheduled, "the policy step never ran"
    assert "file.remove_storage_policy" in scheduled, "the compensation never ran"
    assert await policy_of(file_resources, tenant_id) is None


async def test_a_paid_upgrade_writes_the_new_quota(
    temporal: Client, upgrade_queue: str, tenant_resources: Resources, file_resources: Resources
) -> None:
    tenant_id = await new_tenant(tenant_resources)
    with acting_as(SecurityContext.system("test")):
        handle = await temporal.start_workflow(
            TenantUpgradeWorkflow.run,
            TenantUpgradeInput(
                tenant_id=str(tenant_id),
                actor_id=str(uuid.uuid4()),
                plan=Plan.TEAM.value,
                billing_email=f"{tenant_id.hex[:8]}@example.com",
                payment_method_id="pm_card_visa",
                payment_timeout_seconds=30,
            ),
            id=tenant_upgrade_workflow_id(str(tenant_id)),
            task_queue=upgrade_queue,
        )
    result = await handle.result()
    await record_history(handle, "tenant_upgrade.v2-policy")

    assert result.plan == "team"
    policy = await policy_of(file_resources, tenant_id)
    assert policy is not None and policy.quota_bytes == PLANS[Plan.TEAM].storage_quota_bytes
