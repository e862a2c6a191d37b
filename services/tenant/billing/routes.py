"""``POST /billing/webhooks/stripe``: Stripe's webhook deliveries (docs/billing.md).

Authenticated by its own credential, the ``Stripe-Signature`` header (an HMAC of the body with
``ADX_STRIPE_WEBHOOK_SECRET``, at most 300 s old), verified before anything in the body is read:
it is on ``OWN_CREDENTIAL_ROUTES`` (``services/common/principal.py``), not behind an access token.
An invoice's payment event is sent as the ``payment`` signal to the tenant's waiting
``tenant_upgrade`` run, which re-checks it at the provider before anything changes.

Answers (Stripe retries every delivery that gets no 2xx, for up to three days):

- 401 problem+json to a delivery that fails verification (no, forged or stale signature, a
  changed body, a signed body that is no event; every delivery with the local provider),
  before anything else is done; 413 to a body above ``ADX_MAX_BODY_BYTES``, 400 to an
  ``application/json`` body that is not UTF-8 (``services/common/app.py`` middleware).
  Nothing is signalled.
- 200 to every verified delivery, also when there is nothing to do: ``ignored`` (not an
  invoice payment event, a customer that is not an ADX tenant's or that the provider does not
  know), ``no_run`` (no upgrade of that tenant is open, e.g. a redelivery after it finished).
  A retry would change nothing.
- 503 only when the provider or Temporal cannot be reached: then a retry can succeed.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from services.common.app import ResourcesDep
from services.common.errors import DomainError, ServiceUnavailableError, UnauthorizedError
from services.common.logging import get_logger
from services.common.openapi import problem_response
from services.common.workflow_calls import WorkflowErrors, signal
from services.tenant.billing.factory import billing_provider
from services.tenant.billing.provider import (
    BillingError,
    BillingInputError,
    BillingProvider,
    WebhookVerificationError,
)
from workflows.tenant.tenant_upgrade import (
    PAYMENT_SIGNAL,
    PaymentEvent,
    tenant_upgrade_workflow_id,
)

router = APIRouter(tags=["billing"])
_log = get_logger(__name__)
WEBHOOK_PATH = "/billing/webhooks/stripe"


class WebhookRefusedError(UnauthorizedError):
    """The delivery is not a verified Stripe event: 401, as every route answers a missing or
    wrong credential (``tests/platform/test_service_authentication.py``)."""

    title = "Webhook refused"


class WebhookAck(BaseModel):
    received: bool
    #: ``signalled``, ``ignored`` (not a payment event) or ``no_run`` (no upgrade waits).
    outcome: str


class NoUpgradeWaitingError(DomainError):
    """No ``tenant_upgrade`` run of that tenant is open (the event is acknowledged)."""

    status = 404
    title = "No upgrade waiting"


SIGNAL_ERRORS = WorkflowErrors(
    call="billing webhook signal",
    unavailable="Temporal unreachable; Stripe retries the delivery",
    not_found=lambda: NoUpgradeWaitingError("no upgrade waits for this payment"),
)


def provider_of(request: Request, resources: ResourcesDep) -> BillingProvider:
    """One provider per app (its HTTP pool), made on first use."""
    provider: BillingProvider | None = getattr(request.app.state, "billing_provider", None)
    if provider is None:
        provider = billing_provider(resources.settings)
        request.app.state.billing_provider = provider
    return provider


@router.post(
    WEBHOOK_PATH,
    response_model=WebhookAck,
    responses={401: problem_response(401, "Not a verified Stripe delivery (signature)")},
)
async def stripe_webhook(request: Request, resources: ResourcesDep) -> WebhookAck:
    provider = provider_of(request, resources)
    body = await request.body()
    try:
        event = provider.verify_webhook(body, request.headers.get("stripe-signature"))
    except WebhookVerificationError as error:
        _log.warning("billing.webhook_refused", reason=str(error))
        raise WebhookRefusedError(str(error)) from None
    if event.payment is None or not event.object_id.startswith("in_") or not event.customer_id:
        return WebhookAck(received=True, outcome="ignored")
    try:
        tenant_id = await provider.tenant_of_customer(event.customer_id)
    except BillingInputError:
        # No such customer on the account (deleted, or another integration's): nothing of ours
        # waits on it, and a non-2xx answer would only make Stripe retry it for days.
        _log.info("billing.webhook_unknown_customer", customer=event.customer_id)
        return WebhookAck(received=True, outcome="ignored")
    except BillingError as error:
        # Stripe retries a delivery that did not get a 2xx: the signal is sent then.
        raise ServiceUnavailableError("billing provider unreachable; retry") from error
    if tenant_id is None:
        return WebhookAck(received=True, outcome="ignored")
    payment = PaymentEvent(event_id=event.id, invoice_id=event.object_id, payment=event.payment)
    try:
        await signal(
            resources.temporal,
            tenant_upgrade_workflow_id(tenant_id),
            PAYMENT_SIGNAL,
            payment,
            errors=SIGNAL_ERRORS,
        )
    except NoUpgradeWaitingError:
        return WebhookAck(received=True, outcome="no_run")
    _log.info("billing.webhook_signalled", tenant_id=tenant_id, invoice=event.object_id)
    return WebhookAck(received=True, outcome="signalled")
