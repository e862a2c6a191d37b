"""Webhook signatures, checked against real deliveries of localstripe (its Stripe-Signature
header: ``t=<unix time>,v1=<HMAC-SHA256 of "<t>.<body>">``)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import pytest

from services.tenant.billing.local import LocalBillingProvider
from services.tenant.billing.provider import PaymentStatus, WebhookVerificationError
from services.tenant.billing.stripe_provider import StripeBillingProvider
from tests.tenant.billing.stripe_emulator import (
    Delivery,
    StripeEmulator,
    WebhookInbox,
    settle_authentication,
)
from workflows.tenant.plans import Plan

THREE_D_SECURE_CARD = {
    "number": "4000002760003184",
    "exp_month": 12,
    "exp_year": 2030,
    "cvc": "123",
}


def _sign(body: bytes, secret: str, stamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def _about(object_id: str, event_type: str) -> object:
    def match(delivery: Delivery) -> bool:
        event = json.loads(delivery.body)
        return event["type"] == event_type and event["data"]["object"]["id"] == object_id

    return match


async def _delivered_customer(
    billing: StripeBillingProvider, inbox: WebhookInbox
) -> tuple[str, Delivery]:
    tenant = f"tenant-{uuid.uuid4().hex[:12]}"
    customer = await billing.create_customer(tenant, f"{tenant}@example.com", "x", "k")
    delivery = await inbox.wait_for(_about(customer, "customer.created"))  # type: ignore[arg-type]
    return customer, delivery


async def test_a_real_delivery_is_accepted(
    stripe_billing: StripeBillingProvider, stripe_webhook_inbox: WebhookInbox
) -> None:
    customer, delivery = await _delivered_customer(stripe_billing, stripe_webhook_inbox)
    assert delivery.signature and delivery.signature.startswith("t=")
    event = stripe_billing.verify_webhook(delivery.body, delivery.signature)
    assert (event.type, event.object_id) == ("customer.created", customer)
    assert event.id.startswith("evt_") and event.payment is None


async def test_payment_events_name_the_subscription(
    stripe_billing: StripeBillingProvider,
    stripe_emulator: StripeEmulator,
    stripe_webhook_inbox: WebhookInbox,
) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:12]}"
    customer = await stripe_billing.create_customer(tenant, f"{tenant}@example.com", "x", "k")
    await stripe_billing.attach_payment_method(customer, "pm_card_visa", f"{tenant}:pm")
    subscription = await stripe_billing.create_subscription(customer, Plan.TEAM, f"{tenant}:s")
    assert subscription.latest_invoice is not None
    paid = await stripe_webhook_inbox.wait_for(
        _about(subscription.latest_invoice.id, "invoice.payment_succeeded")  # type: ignore[arg-type]
    )
    event = stripe_billing.verify_webhook(paid.body, paid.signature)
    assert event.subscription_id == subscription.id
    assert (event.payment, event.status) == (PaymentStatus.PAID, "paid")

    # An upgrade paid with a card that asks for 3-D Secure, which the customer then fails.
    method = await stripe_billing.client.v1.payment_methods.create_async(
        params={"type": "card", "card": THREE_D_SECURE_CARD}
    )
    await stripe_billing.attach_payment_method(customer, method.id, f"{tenant}:pm2")
    change = await stripe_billing.change_plan(subscription.id, Plan.BUSINESS, f"{tenant}:up")
    assert change.invoice is not None and change.payment == PaymentStatus.PENDING
    await settle_authentication(stripe_emulator.api_base, change.invoice.id, success=False)
    failed = await stripe_webhook_inbox.wait_for(
        _about(change.invoice.id, "invoice.payment_failed")  # type: ignore[arg-type]
    )
    event = stripe_billing.verify_webhook(failed.body, failed.signature)
    assert event.subscription_id == subscription.id
    assert event.payment == PaymentStatus.FAILED


async def test_a_modified_body_is_refused(
    stripe_billing: StripeBillingProvider, stripe_webhook_inbox: WebhookInbox
) -> None:
    _, delivery = await _delivered_customer(stripe_billing, stripe_webhook_inbox)
    tampered = delivery.body.replace(b'"customer.created"', b'"invoice.payment_succeeded"')
    assert tampered != delivery.body
    with pytest.raises(WebhookVerificationError, match="signature"):
        stripe_billing.verify_webhook(tampered, delivery.signature)


async def test_a_forged_signature_is_refused(
    stripe_billing: StripeBillingProvider, stripe_webhook_inbox: WebhookInbox
) -> None:
    _, delivery = await _delivered_customer(stripe_billing, stripe_webhook_inbox)
    forged = _sign(delivery.body, "whsec_not_the_secret", int(time.time()))
    with pytest.raises(WebhookVerificationError, match="signature"):
        stripe_billing.verify_webhook(delivery.body, forged)
    with pytest.raises(WebhookVerificationError, match="signature"):
        stripe_billing.verify_webhook(delivery.body, "t=123,v1=deadbeef")
    with pytest.raises(WebhookVerificationError, match="no Stripe-Signature"):
        stripe_billing.verify_webhook(delivery.body, None)
    with pytest.raises(WebhookVerificationError):
        stripe_billing.verify_webhook(delivery.body, "garbage")


async def test_a_stale_delivery_is_refused(
    stripe_billing: StripeBillingProvider, stripe_webhook_inbox: WebhookInbox
) -> None:
    _, delivery = await _delivered_customer(stripe_billing, stripe_webhook_inbox)
    # Signed with the right secret, but ten minutes ago: a replay.
    stale = _sign(delivery.body, "whsec_adx_tests", int(time.time()) - 600)
    with pytest.raises(WebhookVerificationError, match="signature"):
        stripe_billing.verify_webhook(delivery.body, stale)


def test_a_signed_body_that_is_no_event_is_refused(stripe_billing: StripeBillingProvider) -> None:
    now = int(time.time())
    for body in (b"not json", b'{"type": "invoice.paid"}', b"[]"):
        with pytest.raises(WebhookVerificationError, match=r"JSON event|no type or object"):
            stripe_billing.verify_webhook(body, _sign(body, "whsec_adx_tests", now))


def test_the_local_provider_takes_no_webhooks() -> None:
    with pytest.raises(WebhookVerificationError, match="no webhooks"):
        LocalBillingProvider().verify_webhook(b"{}", "t=1,v1=0")
