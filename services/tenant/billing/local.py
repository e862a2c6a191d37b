"""The embedded billing provider (DESIGN.md section 4's default): no network, charges no one.

Every plan change is paid at once. Ids are derived from the tenant and the idempotency key
(``cus_local_<hash>``), so a retried call answers the same and a restarted process needs no
state: a subscription it does not hold in memory is taken as it is asked to be. It logs a
warning once per process so that nobody mistakes it for billing.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from services.common.logging import get_logger
from services.tenant.billing.provider import (
    BillingInputError,
    Invoice,
    PaymentStatus,
    PlanChange,
    Subscription,
    WebhookEvent,
    WebhookVerificationError,
)
from workflows.tenant.plans import CURRENCY, PLANS, Plan

_log = get_logger(__name__)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]


def _paid(plan: Plan) -> Plan:
    plan = Plan(plan)
    if PLANS[plan].stripe_plan_id is None:
        raise BillingInputError(f"plan {plan.value!r} is free: it has no subscription")
    return plan


def _require(value: str, prefix: str, what: str) -> None:
    if not isinstance(value, str) or not value.startswith(prefix):
        raise BillingInputError(f"{what} must be an id starting with {prefix!r}")


class LocalBillingProvider:
    """``BillingProvider`` in process (``ADX_BILLING_PROVIDER=local``)."""

    name = "local"

    def __init__(self) -> None:
        self._subscriptions: dict[str, Subscription] = {}
        self._invoices: dict[str, Invoice] = {}
        #: Customer id -> tenant id, for the customers this process created and not deleted.
        self._customers: dict[str, str] = {}
        _log.warning(
            "billing.local_provider",
            message="ADX_BILLING_PROVIDER=local: plan changes are confirmed at once and nobody "
            "is charged (set ADX_BILLING_PROVIDER=stripe to bill)",
        )

    async def aclose(self) -> None:
        return None

    def _paid_invoice(self, key: str, plan: Plan, previous: Plan | None) -> Invoice:
        amount = PLANS[plan].monthly_amount - (PLANS[previous].monthly_amount if previous else 0)
        invoice = Invoice(
            id=f"in_local_{_digest(key)}",
            status="paid",
            payment=PaymentStatus.PAID,
            amount_due=max(0, amount),
            amount_paid=max(0, amount),
            currency=CURRENCY,
        )
        self._invoices[invoice.id] = invoice
        return invoice

    async def create_customer(
        self, tenant_id: str, email: str, name: str, idempotency_key: str
    ) -> str:
        if not tenant_id or "@" not in email or not idempotency_key:
            raise BillingInputError("a customer needs a tenant id, an e-mail and a key")
        customer_id = f"cus_local_{_digest(tenant_id)}"
        self._customers[customer_id] = tenant_id
        return customer_id

    async def delete_customer(self, customer_id: str, idempotency_key: str) -> bool:
        _require(customer_id, "cus_", "customer id")
        if not idempotency_key:
            raise BillingInputError("an idempotency key is required")
        for subscription in list(self._subscriptions.values()):
            if subscription.customer_id == customer_id:
                del self._subscriptions[subscription.id]
        return self._customers.pop(customer_id, None) is not None

    @property
    def customers(self) -> dict[str, str]:
        """The customers this process holds (customer id -> tenant id), a copy."""
        return dict(self._customers)

    async def attach_payment_method(
        self, customer_id: str, payment_method_id: str, idempotency_key: str
    ) -> None:
        _require(customer_id, "cus_", "customer id")
        _require(payment_method_id, "pm_", "payment method id")

    async def create_subscription(
        self, customer_id: str, plan: Plan, idempotency_key: str
    ) -> Subscription:
        _require(customer_id, "cus_", "customer id")
        plan = _paid(plan)
        subscription = Subscription(
            id=f"sub_local_{_digest(customer_id)}",
            customer_id=customer_id,
            plan=plan,
            status="active",
            latest_invoice=self._paid_invoice(idempotency_key, plan, None),
        )
        self._subscriptions[subscription.id] = subscription
        _log.warning("billing.local_subscription", subscription=subscription.id, plan=plan.value)
        return subscription

    async def get_subscription(self, subscription_id: str) -> Subscription:
        _require(subscription_id, "sub_", "subscription id")
        found = self._subscriptions.get(subscription_id)
        if found is None:
            raise BillingInputError(f"no subscription {subscription_id} in this process")
        return found

    async def change_plan(
        self, subscription_id: str, plan: Plan, idempotency_key: str
    ) -> PlanChange:
        _require(subscription_id, "sub_", "subscription id")
        plan = _paid(plan)
        known = self._subscriptions.get(subscription_id)
        previous = known.plan if known is not None else plan
        invoice = self._paid_invoice(idempotency_key, plan, previous)
        subscription = Subscription(
            id=subscription_id,
            customer_id=known.customer_id if known else "cus_local_unknown",
            plan=plan,
            status="active",
            latest_invoice=invoice,
        )
        self._subscriptions[subscription_id] = subscription
        _log.warning("billing.local_plan_change", subscription=subscription_id, plan=plan.value)
        return PlanChange(subscription=subscription, previous_plan=previous, invoice=invoice)

    async def get_invoice(self, invoice_id: str) -> Invoice:
        _require(invoice_id, "in_", "invoice id")
        found = self._invoices.get(invoice_id)
        if found is None:  # issued by an earlier process: every local invoice is paid
            return Invoice(invoice_id, "paid", PaymentStatus.PAID, 0, 0, CURRENCY)
        return found

    async def revert_plan(
        self,
        subscription_id: str,
        plan: Plan,
        failed_invoice_id: str | None,
        idempotency_key: str,
    ) -> Subscription:
        _require(subscription_id, "sub_", "subscription id")
        plan = _paid(plan)
        known = self._subscriptions.get(subscription_id)
        subscription = Subscription(
            id=subscription_id,
            customer_id=known.customer_id if known else "cus_local_unknown",
            plan=plan,
            status="active",
        )
        self._subscriptions[subscription_id] = subscription
        return subscription

    async def cancel_subscription(self, subscription_id: str, idempotency_key: str) -> Subscription:
        subscription = await self.get_subscription(subscription_id)
        canceled = replace(subscription, status="canceled")
        self._subscriptions[subscription_id] = canceled
        return canceled

    async def tenant_of_customer(self, customer_id: str) -> str | None:
        return self._customers.get(customer_id)

    def verify_webhook(self, payload: bytes, signature: str | None) -> WebhookEvent:
        raise WebhookVerificationError("the local billing provider receives no webhooks")
