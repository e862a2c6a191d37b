"""``tenant_upgrade`` on the real Temporal dev server, PostgreSQL and localstripe: quotas change
only after a confirmed payment; a declined card and a timed-out payment leave the old plan.
With ``ADX_RECORD_HISTORIES=1`` the paid upgrade is the replay history
``tests/histories/tenant_upgrade.paid-at-once.json`` (the webhook-confirmed one,
``tenant_upgrade.json``, is recorded by ``test_webhook_route.py``)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.tenant.billing.stripe_provider import StripeBillingProvider
from tests.auth.mail_flows import record_history
from tests.tenant.billing.stripe_emulator import StripeEmulator, settle_authentication
from tests.tenant.billing.tenants import new_tenant, tenant_row
from workflows.tenant.contracts import TenantError
from workflows.tenant.plans import PLANS, Plan
from workflows.tenant.tenant_upgrade import (
    TenantUpgradeInput,
    TenantUpgradeWorkflow,
    tenant_upgrade_workflow_id,
)

FREE = PLANS[Plan.FREE]
TEAM = PLANS[Plan.TEAM]
THREE_D_SECURE = {"number": "4000002760003184", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


async def _upgrade(
    temporal: Client, queue: str, tenant_id: uuid.UUID, card: str, timeout: float = 30
) -> object:
    with acting_as(SecurityContext.system("test")):
        handle = await temporal.start_workflow(
            TenantUpgradeWorkflow.run,
            TenantUpgradeInput(
                tenant_id=str(tenant_id),
                actor_id=str(uuid.uuid4()),
                plan=Plan.TEAM.value,
                billing_email=f"{tenant_id.hex[:8]}@example.com",
                payment_method_id=card,
                payment_timeout_seconds=timeout,
            ),
            id=tenant_upgrade_workflow_id(str(tenant_id)),
            task_queue=queue,
        )
    return handle


async def test_a_paid_upgrade_changes_the_quotas(
    temporal: Client, upgrade_queue: str, tenant_resources: Resources
) -> None:
    tenant_id = await new_tenant(tenant_resources)
    handle = await _upgrade(temporal, upgrade_queue, tenant_id, "pm_card_visa")
    result = await handle.result()  # type: ignore[attr-defined]
    await record_history(handle, "tenant_upgrade.paid-at-once")  # type: ignore[arg-type]
    assert (result.plan, result.previous_plan, result.amount_due) == ("team", "free", 2900)
    row = await tenant_row(tenant_resources, tenant_id)
    assert (row.plan, row.seat_quota, row.storage_quota_bytes) == (
        "team",
        TEAM.seat_quota,
        TEAM.storage_quota_bytes,
    )
    assert row.billing_customer_id and row.billing_subscription_id


async def test_a_declined_card_leaves_the_old_plan(
    temporal: Client,
    upgrade_queue: str,
    tenant_resources: Resources,
    stripe_billing: StripeBillingProvider,
) -> None:
    tenant_id = await new_tenant(tenant_resources)
    handle = await _upgrade(temporal, upgrade_queue, tenant_id, "pm_card_chargeCustomerFail")
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()  # type: ignore[attr-defined]
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == TenantError.PAYMENT_FAILED
    row = await tenant_row(tenant_resources, tenant_id)
    assert (row.plan, row.seat_quota, row.billing_subscription_id) == (
        "free",
        FREE.seat_quota,
        None,
    )
    # At the provider: the subscription this run made is cancelled.
    assert row.billing_customer_id is not None
    subs = await stripe_billing.client.v1.subscriptions.list_async(
        params={"customer": row.billing_customer_id, "status": "all"}
    )
    assert [s.status for s in subs.data] == ["canceled"]


async def test_an_unconfirmed_payment_times_out_to_the_old_plan(
    temporal: Client,
    upgrade_queue: str,
    tenant_resources: Resources,
    stripe_billing: StripeBillingProvider,
) -> None:
    tenant_id = await new_tenant(tenant_resources)
    method = await stripe_billing.client.v1.payment_methods.create_async(
        params={"type": "card", "card": THREE_D_SECURE}
    )
    handle = await _upgrade(temporal, upgrade_queue, tenant_id, method.id, timeout=3)
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()  # type: ignore[attr-defined]
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == TenantError.PAYMENT_TIMED_OUT
    row = await tenant_row(tenant_resources, tenant_id)
    assert (row.plan, row.seat_quota) == ("free", FREE.seat_quota)


async def test_a_forged_signal_confirms_nothing(
    temporal: Client,
    upgrade_queue: str,
    tenant_resources: Resources,
    stripe_billing: StripeBillingProvider,
    stripe_emulator: StripeEmulator,
) -> None:
    """A ``paid`` signal for a payment that is still pending is re-checked at the provider and
    changes nothing; the real confirmation (the customer passes 3-D Secure) does."""
    from workflows.tenant.tenant_upgrade import PAYMENT_SIGNAL, PaymentEvent

    tenant_id = await new_tenant(tenant_resources)
    method = await stripe_billing.client.v1.payment_methods.create_async(
        params={"type": "card", "card": THREE_D_SECURE}
    )
    handle = await _upgrade(temporal, upgrade_queue, tenant_id, method.id, timeout=60)
    for _ in range(200):
        progress = await handle.query("progress")  # type: ignore[attr-defined]
        if progress["state"] == "waiting":
            break
        await asyncio.sleep(0.1)
    assert progress["state"] == "waiting"
    row = await tenant_row(tenant_resources, tenant_id)
    assert row.billing_customer_id is not None
    invoices = await stripe_billing.client.v1.invoices.list_async(
        params={"customer": row.billing_customer_id}
    )
    invoice_id = invoices.data[0].id
    await handle.signal(PAYMENT_SIGNAL, PaymentEvent("evt_forged", invoice_id, "paid"))  # type: ignore[attr-defined]
    await asyncio.sleep(1.5)
    assert (await tenant_row(tenant_resources, tenant_id)).plan == "free"
    progress = await handle.query("progress")  # type: ignore[attr-defined]
    assert progress["state"] == "waiting"

    await settle_authentication(stripe_emulator.api_base, invoice_id, success=True)
    await handle.signal(PAYMENT_SIGNAL, PaymentEvent("evt_real", invoice_id, "paid"))  # type: ignore[attr-defined]
    result = await handle.result()  # type: ignore[attr-defined]
    assert result.plan == "team"
    assert (await tenant_row(tenant_resources, tenant_id)).seat_quota == TEAM.seat_quota
