"""The Stripe billing provider, on the official ``stripe`` library (``StripeClient``, async).

Every write passes an idempotency key to Stripe *and* is made safe by the provider itself
(looked up before it is made again): Stripe deduplicates a retried key, the localstripe emulator
the tests and ``make run`` use does not (docs/billing.md lists what the emulator lacks).
Plans are Stripe plans (``/v1/plans``, ``ensure_stripe_plans``), one per paid ``Plan``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import stripe

from services.common.logging import get_logger
from services.tenant.billing.provider import (
    BillingError,
    BillingInputError,
    BillingUnavailableError,
    Invoice,
    PaymentMethodDeclinedError,
    PaymentStatus,
    PlanChange,
    Subscription,
    WebhookEvent,
    WebhookVerificationError,
)
from workflows.tenant.plans import CURRENCY, PLANS, Plan, PlanTerms

_log = get_logger(__name__)
T = TypeVar("T")

#: Metadata keys the provider writes on Stripe objects (its own idempotency records).
TENANT_KEY = "adx_tenant_id"
CREATED_BY_KEY = "adx_idempotency_key"
CHANGE_KEY = "adx_change_key"
CHANGE_FROM = "adx_change_from"
CHANGE_INVOICE = "adx_change_invoice"
CHANGE_SUBSCRIPTION = "adx_change_subscription"
#: A webhook older than this (seconds, by its signed timestamp) is refused as a replay.
WEBHOOK_TOLERANCE_SECONDS = 300
#: PaymentIntent states that settle later (3-D Secure, bank processing): wait for the webhook.
_PENDING_INTENT = frozenset({"requires_action", "requires_confirmation", "processing"})
_LIVE_SUBSCRIPTION = frozenset({"active", "trialing", "past_due", "incomplete", "unpaid"})


def _plan_of_stripe_id(stripe_plan_id: str) -> Plan:
    for terms in PLANS.values():
        if terms.stripe_plan_id == stripe_plan_id:
            return terms.plan
    raise BillingInputError(f"Stripe plan {stripe_plan_id!r} is not an ADX plan")


def _paid_terms(plan: Plan) -> PlanTerms:
    terms = PLANS[Plan(plan)]
    if terms.stripe_plan_id is None:
        raise BillingInputError(f"plan {plan.value!r} is free: it has no Stripe subscription")
    return terms


def _require_id(value: str, prefix: str, what: str) -> str:
    if not isinstance(value, str) or not value.startswith(prefix) or len(value) > 255:
        raise BillingInputError(f"{what} must be a Stripe id starting with {prefix!r}")
    return value


def _key(idempotency_key: str) -> str:
    if not idempotency_key or len(idempotency_key) > 200:
        raise BillingInputError("an idempotency key of 1 to 200 characters is required")
    return idempotency_key


def _field(obj: Any, name: str) -> Any:
    """A field of a Stripe object or plain dict, ``None`` when absent (objects differ by API
    version: an invoice's subscription is top-level in old versions, under ``parent`` in new)."""
    if obj is None:
        return None
    try:
        return obj[name]
    except (KeyError, TypeError):
        return None


def _meta(obj: Any, name: str) -> str | None:
    value = _field(_field(obj, "metadata"), name)
    return str(value) if value is not None else None


def _object_id(value: Any) -> str | None:
    """An id field that may be expanded into the object itself."""
    if value is None or isinstance(value, str):
        return value
    found = _field(value, "id")
    return found if isinstance(found, str) else None


def _invoice_subscription(invoice: Any) -> str | None:
    direct = _object_id(_field(invoice, "subscription"))
    if direct:
        return direct
    details = _field(_field(invoice, "parent"), "subscription_details")
    return _object_id(_field(details, "subscription"))


class StripeBillingProvider:
    """``BillingProvider`` over the Stripe API (``api_base`` points it at an emulator)."""

    name = "stripe"

    def __init__(
        self,
        api_key: str,
        webhook_secret: str,
        *,
        api_base: str | None = None,
        max_network_retries: int = 2,
    ) -> None:
        if not api_key:
            raise BillingError("a Stripe secret key is required (ADX_STRIPE_API_KEY)")
        if not webhook_secret:
            raise BillingError("a webhook signing secret is required (ADX_STRIPE_WEBHOOK_SECRET)")
        base = {"api": api_base.rstrip("/")} if api_base else None
        self._client = stripe.StripeClient(
            api_key,
            base_addresses=base,  # type: ignore[arg-type]
            max_network_retries=max_network_retries,
            http_client=stripe.HTTPXClient(allow_sync_methods=False),
        )
        self._webhook_secret = webhook_secret
        self.api_base = api_base or stripe.DEFAULT_API_BASE

    @property
    def client(self) -> stripe.StripeClient:
        return self._client

    async def aclose(self) -> None:
        # The HTTPX client's async pool; StripeClient has no close of its own.
        http_client = self._client._requestor._client
        closer = getattr(http_client, "close_async", None)
        if closer is not None:
            await closer()

    # --- calls ------------------------------------------------------------------------------
    async def _call(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """One Stripe call, its failures as billing errors (card declines are the caller's)."""
        try:
            return await call()
        except stripe.CardError:
            raise
        except (stripe.APIConnectionError, stripe.RateLimitError) as error:
            raise BillingUnavailableError(f"{what}: Stripe unreachable ({error})") from error
        except (stripe.AuthenticationError, stripe.PermissionError) as error:
            raise BillingError(f"{what}: Stripe refused the API key ({error})") from error
        except stripe.InvalidRequestError as error:
            raise BillingInputError(f"{what}: {error.user_message or error}") from error
        except stripe.StripeError as error:
            status = error.http_status or 0
            if status >= 500 or status == 0:
                raise BillingUnavailableError(f"{what}: Stripe error {status} ({error})") from error
            raise BillingInputError(f"{what}: {error.user_message or error}") from error

    # --- customers ---------------------------------------------------------------------------
    async def create_customer(
        self, tenant_id: str, email: str, name: str, idempotency_key: str
    ) -> str:
        key = _key(idempotency_key)
        if not tenant_id or "@" not in email:
            raise BillingInputError("a customer needs a tenant id and an e-mail address")
        existing = await self._call(
            "list customers",
            lambda: self._client.v1.customers.list_async(params={"email": email, "limit": 100}),
        )
        for customer in existing.data:
            if _meta(customer, TENANT_KEY) == tenant_id:
                return str(customer.id)
        customer = await self._call(
            "create customer",
            lambda: self._client.v1.customers.create_async(
                params={
                    "email": email,
                    "name": name,
                    "metadata": {TENANT_KEY: tenant_id, CREATED_BY_KEY: key},
                },
                options={"idempotency_key": key},
            ),
        )
        _log.info("billing.customer_created", customer=customer.id, tenant_id=tenant_id)
        return str(customer.id)

    async def delete_customer(self, customer_id: str, idempotency_key: str) -> bool:
        """DELETE /v1/customers/{id}; Stripe also cancels the customer's subscriptions. A
        customer already gone answers 404 (localstripe and Stripe alike): not an error."""
        key = _key(idempotency_key)
        _require_id(customer_id, "cus_", "customer id")

        async def delete() -> bool:
            try:
                await self._client.v1.customers.delete_async(
                    customer_id, options={"idempotency_key": key}
                )
            except stripe.InvalidRequestError as error:
                if error.http_status == 404:
                    return False
                raise
            return True

        deleted = await self._call("delete customer", delete)
        _log.info("billing.customer_deleted", customer=customer_id, deleted=deleted)
        return deleted

    async def tenant_of_customer(self, customer_id: str) -> str | None:
        _require_id(customer_id, "cus_", "customer id")
        customer = await self._call(
            "retrieve customer", lambda: self._client.v1.customers.retrieve_async(customer_id)
        )
        return _meta(customer, TENANT_KEY)

    async def attach_payment_method(
        self, customer_id: str, payment_method_id: str, idempotency_key: str
    ) -> None:
        key = _key(idempotency_key)
        _require_id(customer_id, "cus_", "customer id")
        _require_id(payment_method_id, "pm_", "payment method id")
        try:
            method = await self._call(
                "attach payment method",
                lambda: self._client.v1.payment_methods.attach_async(
                    payment_method_id,
                    params={"customer": customer_id},
                    options={"idempotency_key": f"{key}:attach"},
                ),
            )
        except stripe.CardError as error:
            raise PaymentMethodDeclinedError(
                f"the card was declined: {error.user_message or error.code}"
            ) from error
        await self._call(
            "set default payment method",
            lambda: self._client.v1.customers.update_async(
                customer_id,
                params={"invoice_settings": {"default_payment_method": str(method.id)}},
                options={"idempotency_key": f"{key}:default"},
            ),
        )

    # --- subscriptions -----------------------------------------------------------------------
    async def _subscription(self, raw: Any) -> Subscription:
        items = _field(_field(raw, "items"), "data") or []
        if len(items) != 1:
            raise BillingInputError(f"subscription {raw.id} has {len(items)} items, not one")
        plan_id = _object_id(_field(items[0], "plan"))
        latest = _object_id(_field(raw, "latest_invoice"))
        return Subscription(
            id=str(raw.id),
            customer_id=str(_object_id(_field(raw, "customer"))),
            plan=_plan_of_stripe_id(str(plan_id)),
            status=str(raw.status),
            latest_invoice=await self.get_invoice(latest) if latest else None,
        )

    async def _retrieve_subscription(self, subscription_id: str) -> Any:
        _require_id(subscription_id, "sub_", "subscription id")
        return await self._call(
            "retrieve subscription",
            lambda: self._client.v1.subscriptions.retrieve_async(subscription_id),
        )

    async def create_subscription(
        self, customer_id: str, plan: Plan, idempotency_key: str
    ) -> Subscription:
        key = _key(idempotency_key)
        _require_id(customer_id, "cus_", "customer id")
        terms = _paid_terms(plan)
        existing = await self._call(
            "list subscriptions",
            lambda: self._client.v1.subscriptions.list_async(
                params={"customer": customer_id, "status": "all", "limit": 100}
            ),
        )
        for raw in existing.data:
            if _meta(raw, CREATED_BY_KEY) == key:
                return await self._subscription(raw)
            if raw.status in _LIVE_SUBSCRIPTION:
                raise BillingInputError(
                    f"customer {customer_id} already has subscription {raw.id}: change its plan"
                )
        raw = await self._call(
            "create subscription",
            lambda: self._client.v1.subscriptions.create_async(
                params={
                    "customer": customer_id,
                    "items": [{"plan": str(terms.stripe_plan_id)}],
                    "metadata": {CREATED_BY_KEY: key},
                },
                options={"idempotency_key": key},
            ),
        )
        _log.info("billing.subscription_created", subscription=raw.id, plan=terms.plan.value)
        return await self._subscription(raw)

    async def get_subscription(self, subscription_id: str) -> Subscription:
        return await self._subscription(await self._retrieve_subscription(subscription_id))

    async def change_plan(
        self, subscription_id: str, plan: Plan, idempotency_key: str
    ) -> PlanChange:
        """Three steps, each skipped when a retry finds it done: the plan swapped (prorations
        created), the difference invoiced, the invoice paid. The change in flight is recorded
        on the customer's metadata (localstripe drops metadata on subscription updates)."""
        key = _key(idempotency_key)
        terms = _paid_terms(plan)
        raw = await self._retrieve_subscription(subscription_id)
        current = await self._subscription(raw)
        customer = await self._call(
            "retrieve customer",
            lambda: self._client.v1.customers.retrieve_async(current.customer_id),
        )
        invoice_id: str | None
        if _meta(customer, CHANGE_KEY) == key and _meta(customer, CHANGE_SUBSCRIPTION) == (
            subscription_id
        ):
            previous = Plan(str(_meta(customer, CHANGE_FROM)))
            invoice_id = _meta(customer, CHANGE_INVOICE) or None
        else:
            if current.plan == terms.plan:
                raise BillingInputError(f"subscription {subscription_id} is already on {plan}")
            if current.status == "canceled":
                raise BillingInputError(f"subscription {subscription_id} is canceled")
            previous, invoice_id = current.plan, None
            await self._record(
                current.customer_id,
                {
                    CHANGE_KEY: key,
                    CHANGE_SUBSCRIPTION: subscription_id,
                    CHANGE_FROM: previous.value,
                    CHANGE_INVOICE: "",
                },
                f"{key}:intent",
            )
        if current.plan != terms.plan:
            item_id = str(_field(raw, "items")["data"][0]["id"])
            await self._call(
                "change plan",
                lambda: self._client.v1.subscriptions.update_async(
                    subscription_id,
                    params={"items": [{"id": item_id, "plan": str(terms.stripe_plan_id)}]},
                    options={"idempotency_key": f"{key}:update"},
                ),
            )
        if invoice_id is None:
            created = await self._call(
                "invoice the proration",
                lambda: self._client.v1.invoices.create_async(
                    params={
                        "customer": current.customer_id,
                        "subscription": subscription_id,
                        "pending_invoice_items_behavior": "include",
                        "metadata": {CHANGE_KEY: key},
                    },
                    options={"idempotency_key": f"{key}:invoice"},
                ),
            )
            invoice_id = str(created.id)
            await self._record(current.customer_id, {CHANGE_INVOICE: invoice_id}, f"{key}:record")
        invoice = await self._pay(invoice_id, key)
        _log.info(
            "billing.plan_changed",
            subscription=subscription_id,
            previous=previous.value,
            plan=terms.plan.value,
            invoice=invoice.id,
            payment=invoice.payment.value,
            amount_due=invoice.amount_due,
        )
        return PlanChange(
            subscription=await self.get_subscription(subscription_id),
            previous_plan=previous,
            invoice=invoice,
        )

    async def _record(self, customer_id: str, metadata: dict[str, str], key: str) -> None:
        await self._call(
            "record the change",
            lambda: self._client.v1.customers.update_async(
                customer_id, params={"metadata": metadata}, options={"idempotency_key": key}
            ),
        )

    async def _pay(self, invoice_id: str, key: str) -> Invoice:
        raw = await self._retrieve_invoice(invoice_id)
        attempted = bool(_field(raw, "attempted")) and _field(raw, "payment_intent") is not None
        if raw.status not in ("draft", "open") or attempted:
            return await self._invoice(raw)  # paid, void, or a payment already tried: no retry
        try:
            raw = await self._call(
                "pay invoice",
                lambda: self._client.v1.invoices.pay_async(
                    invoice_id, options={"idempotency_key": f"{key}:pay"}
                ),
            )
        except stripe.CardError as error:
            raw = await self._retrieve_invoice(invoice_id)
            if error.code == "invoice_payment_intent_requires_action":
                return await self._invoice(raw, pending=True)
            return await self._invoice(raw, failure=str(error.user_message or error.code))
        return await self._invoice(raw)

    async def revert_plan(
        self,
        subscription_id: str,
        plan: Plan,
        failed_invoice_id: str | None,
        idempotency_key: str,
    ) -> Subscription:
        key = _key(idempotency_key)
        terms = _paid_terms(plan)
        if failed_invoice_id is not None:
            await self._void(_require_id(failed_invoice_id, "in_", "invoice id"), key)
        raw = await self._retrieve_subscription(subscription_id)
        current = await self._subscription(raw)
        if current.plan != terms.plan:
            item_id = str(_field(raw, "items")["data"][0]["id"])
            await self._call(
                "restore plan",
                lambda: self._client.v1.subscriptions.update_async(
                    subscription_id,
                    params={"items": [{"id": item_id, "plan": str(terms.stripe_plan_id)}]},
                    options={"idempotency_key": f"{key}:restore"},
                ),
            )
        await self._drop_pending_prorations(current.customer_id, subscription_id, key)
        _log.info("billing.plan_restored", subscription=subscription_id, plan=terms.plan.value)
        return await self.get_subscription(subscription_id)

    async def _void(self, invoice_id: str, key: str) -> None:
        raw = await self._retrieve_invoice(invoice_id)
        if raw.status != "open":
            return
        await self._call(
            "void invoice",
            lambda: self._client.v1.invoices.void_invoice_async(
                invoice_id, options={"idempotency_key": f"{key}:void"}
            ),
        )

    async def _drop_pending_prorations(
        self, customer_id: str, subscription_id: str, key: str
    ) -> None:
        """The restore is not prorated: no invoice item it left may reach the next invoice.

        Real Stripe would take ``proration_behavior=none`` on the restore; localstripe refuses
        that parameter and always books an "Unused time" item, so the provider removes the
        pending proration items of this subscription instead (on Stripe there are none)."""
        items = await self._call(
            "list invoice items",
            lambda: self._client.v1.invoice_items.list_async(
                params={"customer": customer_id, "limit": 100}
            ),
        )
        for item in items.data:
            pending = _field(item, "invoice") is None
            mine = _object_id(_field(item, "subscription")) == subscription_id
            if pending and mine and _field(item, "proration"):
                await self._drop_item(str(item.id), key)

    async def _drop_item(self, item_id: str, key: str) -> None:
        await self._call(
            "drop proration item",
            lambda: self._client.v1.invoice_items.delete_async(
                item_id, options={"idempotency_key": f"{key}:drop:{item_id}"}
            ),
        )

    async def cancel_subscription(self, subscription_id: str, idempotency_key: str) -> Subscription:
        key = _key(idempotency_key)
        raw = await self._retrieve_subscription(subscription_id)
        if raw.status != "canceled":
            raw = await self._call(
                "cancel subscription",
                lambda: self._client.v1.subscriptions.cancel_async(
                    subscription_id, options={"idempotency_key": key}
                ),
            )
        return await self._subscription(raw)

    # --- invoices ----------------------------------------------------------------------------
    async def _retrieve_invoice(self, invoice_id: str) -> Any:
        _require_id(invoice_id, "in_", "invoice id")
        return await self._call(
            "retrieve invoice", lambda: self._client.v1.invoices.retrieve_async(invoice_id)
        )

    async def get_invoice(self, invoice_id: str) -> Invoice:
        return await self._invoice(await self._retrieve_invoice(invoice_id))

    async def _invoice(
        self, raw: Any, *, failure: str | None = None, pending: bool = False
    ) -> Invoice:
        status = str(raw.status)
        if status == "paid":
            payment = PaymentStatus.PAID
        elif status in ("void", "uncollectible"):
            payment = PaymentStatus.FAILED
        elif failure is not None:
            payment = PaymentStatus.FAILED
        elif pending:
            payment = PaymentStatus.PENDING
        else:
            payment, failure = await self._intent_outcome(raw)
        return Invoice(
            id=str(raw.id),
            status=status,
            payment=payment,
            amount_due=int(_field(raw, "amount_due") or 0),
            amount_paid=int(_field(raw, "amount_paid") or 0),
            currency=str(_field(raw, "currency") or CURRENCY),
            failure=failure,
        )

    async def _intent_outcome(self, raw: Any) -> tuple[PaymentStatus, str | None]:
        """An open invoice: failed if its payment was declined, else pending.

        API versions before 2025-03-31 (and localstripe) name the invoice's PaymentIntent; newer
        ones do not, and an open invoice then counts as pending until its webhook arrives."""
        intent_id = _object_id(_field(raw, "payment_intent"))
        if intent_id is None:
            return PaymentStatus.PENDING, None
        intent = await self._call(
            "retrieve payment",
            lambda: self._client.v1.payment_intents.retrieve_async(intent_id),
        )
        if intent.status in _PENDING_INTENT:
            return PaymentStatus.PENDING, None
        if intent.status == "succeeded":
            return PaymentStatus.PAID, None
        error = _field(intent, "last_payment_error")
        reason = _field(error, "message") or _field(error, "code") or "payment declined"
        return PaymentStatus.FAILED, str(reason)

    # --- webhooks ----------------------------------------------------------------------------
    def verify_webhook(self, payload: bytes, signature: str | None) -> WebhookEvent:
        if not signature:
            raise WebhookVerificationError("no Stripe-Signature header")
        try:
            event = stripe.Webhook.construct_event(
                payload, signature, self._webhook_secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError as error:
            raise WebhookVerificationError(f"bad webhook signature: {error.user_message}") from None
        except (ValueError, TypeError, AttributeError, KeyError):
            raise WebhookVerificationError("the webhook body is not a JSON event") from None
        obj = _field(_field(event, "data"), "object")
        object_id = _object_id(obj)
        if not isinstance(_field(event, "type"), str) or object_id is None:
            raise WebhookVerificationError("the webhook event has no type or object")
        kind = _field(obj, "object")
        subscription = object_id if kind == "subscription" else _invoice_subscription(obj)
        status = _field(obj, "status")
        return WebhookEvent(
            id=str(_field(event, "id")),
            type=str(event["type"]),
            object_id=object_id,
            subscription_id=subscription,
            customer_id=(object_id if kind == "customer" else _object_id(_field(obj, "customer"))),
            status=str(status) if status is not None else None,
            created=int(_field(event, "created") or 0),
        )


async def ensure_stripe_plans(provider: StripeBillingProvider) -> dict[Plan, str]:
    """Create the product and the monthly plan of every paid ``Plan`` unless they exist
    (``make run`` and the tests call it; so can operators against a real account). A plan that
    exists with another amount or currency is an error: Stripe plan prices are immutable."""
    client = provider.client
    made: dict[Plan, str] = {}
    for terms in PLANS.values():
        if terms.stripe_plan_id is None:
            continue
        plan_id = terms.stripe_plan_id
        try:
            existing = await client.v1.plans.retrieve_async(plan_id)
        except stripe.InvalidRequestError as error:
            if error.http_status != 404:
                raise BillingInputError(f"retrieve plan {plan_id}: {error}") from error
            existing = None
        if existing is not None:
            if existing.amount != terms.monthly_amount or existing.currency != CURRENCY:
                raise BillingInputError(
                    f"Stripe plan {plan_id} is {existing.amount} {existing.currency}, "
                    f"not {terms.monthly_amount} {CURRENCY}: make a new plan id"
                )
            made[terms.plan] = plan_id
            continue
        product_id = f"{plan_id}-product"
        try:
            await client.v1.products.retrieve_async(product_id)
        except stripe.InvalidRequestError:
            await client.v1.products.create_async(
                params={"id": product_id, "name": f"ADX {terms.plan.value}"},
                options={"idempotency_key": f"adx-product-{product_id}"},
            )
        await client.v1.plans.create_async(
            params={
                "id": plan_id,
                "product": product_id,
                "amount": terms.monthly_amount,
                "currency": CURRENCY,
                "interval": "month",
                "nickname": f"ADX {terms.plan.value} (monthly)",
            },
            options={"idempotency_key": f"adx-plan-{plan_id}-{terms.monthly_amount}"},
        )
        _log.info("billing.stripe_plan_created", plan=plan_id, amount=terms.monthly_amount)
        made[terms.plan] = plan_id
    return made
