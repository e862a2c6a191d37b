"""The Stripe provider against a real localstripe, through the official ``stripe`` library.

localstripe ignores ``Idempotency-Key``; the idempotency tests therefore check the provider's
own guards (look-ups before writes), which also hold on real Stripe (docs/billing.md).
"""

from __future__ import annotations

import uuid

import pytest
import stripe

from services.tenant.billing.provider import (
    BillingInputError,
    BillingUnavailableError,
    PaymentMethodDeclinedError,
    PaymentStatus,
)
from services.tenant.billing.stripe_provider import StripeBillingProvider, ensure_stripe_plans
from tests.tenant.billing.stripe_emulator import StripeEmulator
from workflows.tenant.plans import PLANS, Plan

TEAM = PLANS[Plan.TEAM].monthly_amount
BUSINESS = PLANS[Plan.BUSINESS].monthly_amount


def _key(step: str) -> str:
    return f"test-{uuid.uuid4().hex}:{step}"


async def _customer(billing: StripeBillingProvider, card: str = "pm_card_visa") -> str:
    tenant = f"tenant-{uuid.uuid4().hex[:12]}"
    customer = await billing.create_customer(tenant, f"{tenant}@example.com", tenant, _key("c"))
    await billing.attach_payment_method(customer, card, _key("pm"))
    return customer


async def test_plans_are_created_once_and_checked(stripe_billing: StripeBillingProvider) -> None:
    again = await ensure_stripe_plans(stripe_billing)
    assert again == {Plan.TEAM: "adx-team", Plan.BUSINESS: "adx-business"}
    plans = await stripe_billing.client.v1.plans.list_async(params={"limit": 100})
    ids = [p.id for p in plans.data]
    assert ids.count("adx-team") == 1 and ids.count("adx-business") == 1
    team = await stripe_billing.client.v1.plans.retrieve_async("adx-team")
    assert (team.amount, team.currency, team.interval) == (TEAM, "usd", "month")


async def test_customer_is_created_once_per_tenant(stripe_billing: StripeBillingProvider) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:12]}"
    email = f"{tenant}@example.com"
    first = await stripe_billing.create_customer(tenant, email, "Acme", "key-1")
    # The same key again (a retried activity), and even another key: still one customer.
    assert await stripe_billing.create_customer(tenant, email, "Acme", "key-1") == first
    assert await stripe_billing.create_customer(tenant, email, "Acme", "key-2") == first
    listed = await stripe_billing.client.v1.customers.list_async(params={"email": email})
    assert [c.id for c in listed.data] == [first]
    customer = await stripe_billing.client.v1.customers.retrieve_async(first)
    assert customer.metadata["adx_tenant_id"] == tenant
    # Another tenant with the same billing address is another customer.
    other = await stripe_billing.create_customer(f"{tenant}-2", email, "Acme 2", "key-3")
    assert other != first


async def test_subscription_charges_the_first_period(stripe_billing: StripeBillingProvider) -> None:
    customer = await _customer(stripe_billing)
    key = _key("subscribe")
    subscription = await stripe_billing.create_subscription(customer, Plan.TEAM, key)
    assert subscription.plan == Plan.TEAM and subscription.status == "active"
    assert subscription.customer_id == customer
    invoice = subscription.latest_invoice
    assert invoice is not None and invoice.payment == PaymentStatus.PAID
    assert (invoice.amount_due, invoice.amount_paid, invoice.currency) == (TEAM, TEAM, "usd")
    # Retried with its key: the same subscription, no second one.
    again = await stripe_billing.create_subscription(customer, Plan.TEAM, key)
    assert again.id == subscription.id
    listed = await stripe_billing.client.v1.subscriptions.list_async(
        params={"customer": customer, "status": "all"}
    )
    assert [s.id for s in listed.data] == [subscription.id]
    # Another key while one is live: refused, not a second subscription.
    with pytest.raises(BillingInputError, match="already has subscription"):
        await stripe_billing.create_subscription(customer, Plan.BUSINESS, _key("other"))


async def test_upgrade_is_prorated_and_paid(stripe_billing: StripeBillingProvider) -> None:
    customer = await _customer(stripe_billing)
    subscription = await stripe_billing.create_subscription(customer, Plan.TEAM, _key("s"))
    key = _key("upgrade")
    change = await stripe_billing.change_plan(subscription.id, Plan.BUSINESS, key)
    assert change.previous_plan == Plan.TEAM
    assert change.subscription.plan == Plan.BUSINESS
    assert change.payment == PaymentStatus.PAID
    invoice = change.invoice
    assert invoice is not None
    # localstripe prorates as "the new plan minus what the previous invoices paid".
    assert (invoice.amount_due, invoice.amount_paid) == (BUSINESS - TEAM, BUSINESS - TEAM)
    lines = await stripe_billing.client.v1.invoices.line_items.list_async(invoice.id)
    amounts = sorted(line.amount for line in lines.data)
    assert amounts == [-TEAM, BUSINESS]
    assert any(line["proration"] for line in lines.data)

    # The same change retried (its key): nothing is invoiced or charged twice.
    again = await stripe_billing.change_plan(subscription.id, Plan.BUSINESS, key)
    assert again.invoice is not None and again.invoice.id == invoice.id
    invoices = await stripe_billing.client.v1.invoices.list_async(
        params={"subscription": subscription.id}
    )
    assert len(invoices.data) == 2  # the first period and this change
    charges = await stripe_billing.client.v1.charges.list_async(params={"customer": customer})
    assert sorted(c.amount for c in charges.data) == sorted([TEAM, BUSINESS - TEAM])

    # A new change to the plan it is on: refused.
    with pytest.raises(BillingInputError, match="already on business"):
        await stripe_billing.change_plan(subscription.id, Plan.BUSINESS, _key("same"))


async def test_declined_charge_is_reported_and_reverted(
    stripe_billing: StripeBillingProvider,
) -> None:
    customer = await _customer(stripe_billing)
    subscription = await stripe_billing.create_subscription(customer, Plan.TEAM, _key("s"))
    # A card that attaches but whose charges are declined (a Stripe test token, localstripe too).
    await stripe_billing.attach_payment_method(customer, "pm_card_chargeCustomerFail", _key("pm"))
    key = _key("upgrade")
    change = await stripe_billing.change_plan(subscription.id, Plan.BUSINESS, key)
    assert change.payment == PaymentStatus.FAILED
    assert change.invoice is not None and change.invoice.amount_paid == 0
    assert change.invoice.failure
    # Retried: the failed payment is not tried again.
    again = await stripe_billing.change_plan(subscription.id, Plan.BUSINESS, key)
    assert again.payment == PaymentStatus.FAILED

    restored = await stripe_billing.revert_plan(
        subscription.id, Plan.TEAM, change.invoice.id, _key("revert")
    )
    assert restored.plan == Plan.TEAM
    voided = await stripe_billing.get_invoice(change.invoice.id)
    assert voided.status == "void" and voided.payment == PaymentStatus.FAILED
    # The restore left nothing to be charged on the next invoice.
    items = await stripe_billing.client.v1.invoice_items.list_async(params={"customer": customer})
    assert [i.id for i in items.data if i["invoice"] is None] == []
    charges = await stripe_billing.client.v1.charges.list_async(params={"customer": customer})
    assert sum(c.amount for c in charges.data if c.status == "succeeded") == TEAM


async def test_card_declined_when_attached(stripe_billing: StripeBillingProvider) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:12]}"
    customer = await stripe_billing.create_customer(tenant, f"{tenant}@example.com", "x", "k")
    with pytest.raises(PaymentMethodDeclinedError, match="declined"):
        await stripe_billing.attach_payment_method(
            customer, "pm_card_visa_chargeDeclined", _key("pm")
        )


async def test_authentication_required_is_pending(stripe_billing: StripeBillingProvider) -> None:
    customer = await _customer(stripe_billing)
    subscription = await stripe_billing.create_subscription(customer, Plan.TEAM, _key("s"))
    method = await stripe_billing.client.v1.payment_methods.create_async(
        params={
            "type": "card",
            "card": {"number": "4000002760003184", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    await stripe_billing.attach_payment_method(customer, method.id, _key("pm"))
    change = await stripe_billing.change_plan(subscription.id, Plan.BUSINESS, _key("up"))
    assert change.payment == PaymentStatus.PENDING
    assert change.invoice is not None
    assert (await stripe_billing.get_invoice(change.invoice.id)).payment == PaymentStatus.PENDING


async def test_cancel_is_idempotent(stripe_billing: StripeBillingProvider) -> None:
    customer = await _customer(stripe_billing)
    subscription = await stripe_billing.create_subscription(customer, Plan.TEAM, _key("s"))
    key = _key("cancel")
    assert (await stripe_billing.cancel_subscription(subscription.id, key)).status == "canceled"
    assert (await stripe_billing.cancel_subscription(subscription.id, key)).status == "canceled"
    with pytest.raises(BillingInputError, match="canceled"):
        await stripe_billing.change_plan(subscription.id, Plan.BUSINESS, _key("up"))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda b: b.create_customer("", "a@example.com", "x", "k"), "tenant id"),
        (lambda b: b.create_customer("t", "not-an-address", "x", "k"), "e-mail"),
        (lambda b: b.create_customer("t", "a@example.com", "x", ""), "idempotency key"),
        (lambda b: b.create_subscription("cus_doesnotexist", Plan.TEAM, "k"), "Not Found"),
        (lambda b: b.create_subscription("cus_x", Plan.FREE, "k"), "free"),
        (lambda b: b.create_subscription("../v1/customers", Plan.TEAM, "k"), "cus_"),
        (lambda b: b.change_plan("sub_doesnotexist", Plan.TEAM, "k"), "retrieve subscription"),
        (lambda b: b.change_plan("in_x", Plan.TEAM, "k"), "sub_"),
        (lambda b: b.get_invoice("in_doesnotexist"), "retrieve invoice"),
        (lambda b: b.attach_payment_method("cus_x", "card_x", "k"), "pm_"),
    ],
)
async def test_bad_input_is_a_clear_error(
    stripe_billing: StripeBillingProvider, call, message: str
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BillingInputError, match=message):
        await call(stripe_billing)


async def test_unknown_plan_is_refused(stripe_billing: StripeBillingProvider) -> None:
    customer = await _customer(stripe_billing)
    with pytest.raises(ValueError, match="enterprise"):
        await stripe_billing.create_subscription(customer, Plan("enterprise"), "k")


async def test_unreachable_stripe_is_retryable(stripe_emulator: StripeEmulator) -> None:
    from services.devstack.ports import free_port

    provider = StripeBillingProvider(
        "sk_test_x", "whsec_x", api_base=f"http://127.0.0.1:{free_port()}", max_network_retries=0
    )
    with pytest.raises(BillingUnavailableError) as caught:
        await provider.create_customer("t", "a@example.com", "x", "k")
    assert caught.value.retryable
    await provider.aclose()


async def test_wrong_api_key_is_not_retried(stripe_emulator: StripeEmulator) -> None:
    provider = StripeBillingProvider("pk_live_nope", "whsec_x", api_base=stripe_emulator.api_base)
    with pytest.raises(Exception) as caught:
        await provider.create_customer("t", "a@example.com", "x", "k")
    assert not getattr(caught.value, "retryable", True)
    assert isinstance(caught.value.__cause__, stripe.AuthenticationError)
    await provider.aclose()
