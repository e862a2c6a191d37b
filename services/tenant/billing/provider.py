"""The billing provider interface (DESIGN.md section 4: embedded default, Stripe at scale).

Every write takes an idempotency key, derived by the caller from the workflow id and step
(``services/tenant/billing/activities.py``), so a retried call never creates a second customer,
subscription or charge. Results are plain dataclasses: nothing of a provider's SDK leaks out.
See docs/billing.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from workflows.tenant.plans import Plan


class BillingError(Exception):
    """A billing call failed; ``retryable`` says whether trying again may help."""

    retryable = False


class BillingInputError(BillingError):
    """The call was refused for what it asked (unknown plan, customer or subscription, a plan
    the subscription is already on, a malformed id): retrying the same call cannot help."""


class PaymentMethodDeclinedError(BillingError):
    """The card was declined when attached to the customer (before any charge)."""


class BillingUnavailableError(BillingError):
    """The provider did not answer, or answered with a server error: worth retrying."""

    retryable = True


class WebhookVerificationError(BillingError):
    """A webhook delivery whose signature is missing, wrong or stale, or whose body is not an
    event: it is refused before anything in it is read."""


class PaymentStatus(StrEnum):
    """Where the payment of a plan change stands."""

    #: Paid: the change may take effect (quotas may change).
    PAID = "paid"
    #: Not settled yet (3-D Secure, a processing payment): wait for the webhook.
    PENDING = "pending"
    #: Declined, voided or uncollectible: the old plan must stay.
    FAILED = "failed"


@dataclass(frozen=True)
class Invoice:
    id: str
    #: The provider's own invoice status (``draft``, ``open``, ``paid``, ``void``, ...).
    status: str
    payment: PaymentStatus
    #: Smallest currency unit (cents); what the invoice asks and what was paid.
    amount_due: int
    amount_paid: int
    currency: str
    #: The provider's decline reason when ``payment`` is ``FAILED`` (for logs and the user).
    failure: str | None = None


@dataclass(frozen=True)
class Subscription:
    id: str
    customer_id: str
    plan: Plan
    #: The provider's subscription status (``active``, ``incomplete``, ``past_due``, ...).
    status: str
    latest_invoice: Invoice | None = None


@dataclass(frozen=True)
class PlanChange:
    """A plan change as the provider holds it: the subscription is on ``plan`` and ``invoice``
    (the prorated difference) says whether it is paid. It is not final until paid: a failed or
    timed-out payment is undone with ``revert_plan``."""

    subscription: Subscription
    previous_plan: Plan
    invoice: Invoice | None

    @property
    def payment(self) -> PaymentStatus:
        return self.invoice.payment if self.invoice is not None else PaymentStatus.PAID


class WebhookEventType(StrEnum):
    """The event types the platform acts on; others are acknowledged and ignored."""

    INVOICE_PAID = "invoice.payment_succeeded"
    INVOICE_PAYMENT_FAILED = "invoice.payment_failed"
    SUBSCRIPTION_UPDATED = "customer.subscription.updated"
    SUBSCRIPTION_DELETED = "customer.subscription.deleted"


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook event, reduced to what a workflow needs."""

    id: str
    type: str
    #: The id of the event's object (an invoice ``in_...``, a subscription ``sub_...``).
    object_id: str
    subscription_id: str | None
    #: The customer the object belongs to (``cus_...``), when it names one.
    customer_id: str | None
    #: The object's status after the event (an invoice's ``paid``, ``open``, ...).
    status: str | None
    created: int

    @property
    def payment(self) -> PaymentStatus | None:
        """The payment outcome this event reports, or ``None`` when it reports none."""
        if self.type == WebhookEventType.INVOICE_PAID:
            return PaymentStatus.PAID
        if self.type == WebhookEventType.INVOICE_PAYMENT_FAILED:
            return PaymentStatus.FAILED
        return None


class BillingProvider(Protocol):
    """What the tenant service needs of a billing provider (``billing_provider(settings)``)."""

    #: ``local`` or ``stripe``: recorded with each change.
    name: str

    async def create_customer(
        self, tenant_id: str, email: str, name: str, idempotency_key: str
    ) -> str:
        """The customer id of ``tenant_id``, created on first call (once per tenant)."""
        ...

    async def delete_customer(self, customer_id: str, idempotency_key: str) -> bool:
        """Delete the customer (and, at the provider, whatever it holds: subscriptions, cards);
        the compensation of ``create_customer``. Idempotent: a customer already gone is not an
        error, the answer is then ``False`` (``True`` when this call deleted it)."""
        ...

    async def attach_payment_method(
        self, customer_id: str, payment_method_id: str, idempotency_key: str
    ) -> None:
        """Make ``payment_method_id`` (from the provider's client-side form) the customer's
        default; ``PaymentMethodDeclinedError`` if the card is refused."""
        ...

    async def create_subscription(
        self, customer_id: str, plan: Plan, idempotency_key: str
    ) -> Subscription:
        """Subscribe the customer to a paid ``plan`` and charge the first period; the result's
        ``latest_invoice`` says whether it was paid."""
        ...

    async def get_subscription(self, subscription_id: str) -> Subscription: ...

    async def change_plan(
        self, subscription_id: str, plan: Plan, idempotency_key: str
    ) -> PlanChange:
        """Move the subscription to ``plan``, prorated, and charge the difference now."""
        ...

    async def get_invoice(self, invoice_id: str) -> Invoice:
        """The invoice as the provider holds it now (a payment re-read at the source)."""
        ...

    async def revert_plan(
        self,
        subscription_id: str,
        plan: Plan,
        failed_invoice_id: str | None,
        idempotency_key: str,
    ) -> Subscription:
        """Undo an unpaid change: back to ``plan`` without proration, the unpaid invoice voided
        so it is never collected later."""
        ...

    async def cancel_subscription(self, subscription_id: str, idempotency_key: str) -> Subscription:
        """End the subscription now (a downgrade to the free plan); idempotent."""
        ...

    async def tenant_of_customer(self, customer_id: str) -> str | None:
        """The tenant a customer was made for (``create_customer``), or None."""
        ...

    def verify_webhook(self, payload: bytes, signature: str | None) -> WebhookEvent:
        """The event of a webhook delivery, after checking its signature and age;
        ``WebhookVerificationError`` otherwise."""
        ...

    async def aclose(self) -> None: ...
