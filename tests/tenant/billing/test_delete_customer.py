"""``BillingProvider.delete_customer`` (the compensation of a tenant's billing customer), on the
Stripe provider against a real localstripe and on the local provider: the customer is gone, and
deleting it again is harmless (a retried compensation)."""

from __future__ import annotations

import uuid

import pytest
import stripe

from services.tenant.billing.local import LocalBillingProvider
from services.tenant.billing.provider import BillingInputError
from services.tenant.billing.stripe_provider import StripeBillingProvider


def _tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:12]}"


async def test_a_deleted_stripe_customer_is_gone_and_a_second_delete_is_harmless(
    stripe_billing: StripeBillingProvider,
) -> None:
    tenant = _tenant()
    email = f"{tenant}@example.com"
    customer = await stripe_billing.create_customer(tenant, email, tenant, f"{tenant}:c")
    await stripe_billing.attach_payment_method(customer, "pm_card_visa", f"{tenant}:pm")

    assert await stripe_billing.delete_customer(customer, f"{tenant}:undo") is True
    with pytest.raises(stripe.InvalidRequestError) as gone:
        await stripe_billing.client.v1.customers.retrieve_async(customer)
    assert gone.value.http_status == 404
    listed = await stripe_billing.client.v1.customers.list_async(params={"email": email})
    assert [c.id for c in listed.data] == []
    # A retried compensation (same key, or another one): no error, nothing deleted.
    assert await stripe_billing.delete_customer(customer, f"{tenant}:undo") is False
    assert await stripe_billing.delete_customer(customer, f"{tenant}:undo-again") is False
    # The tenant can be given a customer again afterwards (a new one).
    again = await stripe_billing.create_customer(tenant, email, tenant, f"{tenant}:c2")
    assert again != customer


async def test_stripe_delete_refuses_what_is_not_a_customer_id(
    stripe_billing: StripeBillingProvider,
) -> None:
    with pytest.raises(BillingInputError):
        await stripe_billing.delete_customer("sub_123", "key")
    with pytest.raises(BillingInputError):
        await stripe_billing.delete_customer("cus_123", "")


async def test_the_local_provider_forgets_a_deleted_customer() -> None:
    billing = LocalBillingProvider()
    tenant = _tenant()
    customer = await billing.create_customer(tenant, f"{tenant}@example.com", tenant, "k")
    assert billing.customers == {customer: tenant}
    assert await billing.tenant_of_customer(customer) == tenant

    assert await billing.delete_customer(customer, "undo") is True
    assert billing.customers == {} and await billing.tenant_of_customer(customer) is None
    assert await billing.delete_customer(customer, "undo") is False
