"""``POST /billing/webhooks/stripe`` over HTTP: the real tenant app (``SPEC.build_app``) in
process, configured for the Stripe provider against localstripe, fed real signed deliveries of
localstripe (caught by the ``stripe_webhook_inbox`` receiver, then posted to the app as they
arrived) or bodies signed exactly as localstripe signs them (``t=<unix time>,v1=<HMAC-SHA256 of
"<t>.<body>">`` with the configured secret).

What the route answers, and why (Stripe retries every delivery that gets no 2xx, for days):

- a verified invoice payment event of a tenant signals that tenant's ``tenant_upgrade`` run, and
  nobody else's; the run re-checks at the provider and finishes (or fails) at once;
- a delivery that fails verification (no, forged, stale signature; a changed body; a signed
  body that is no event) is a 401 problem+json, as any route answers a bad credential, and
  signals nothing; a JSON body that is not UTF-8 is a 400, one above the limit a 413;
- a verified event that concerns nothing of ours (a customer the provider does not know, one
  that is not an ADX tenant's, a tenant with no open upgrade) is a 200 with no effect, since a
  retry would change nothing;
- the route takes no bearer token; every other tenant route still requires one
  (``tests/platform/test_service_authentication.py`` checks the allowlist for every service).

With ``ADX_RECORD_HISTORIES=1`` the webhook-confirmed upgrade is the replay history
``tests/histories/tenant_upgrade.json``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from services.common.principal import (
    API_PORT_METRICS_ROUTES,
    COMMON_PUBLIC_ROUTES,
    public_reason,
    route_operations,
)
from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName
from services.tenant.billing.routes import WEBHOOK_PATH
from services.tenant.billing.stripe_provider import StripeBillingProvider
from services.tenant.service import SPEC
from tests.auth.mail_flows import record_history
from tests.in_process import in_process_client
from tests.problems import assert_problem
from tests.tenant.billing.stripe_emulator import (
    Delivery,
    StripeEmulator,
    WebhookInbox,
    settle_authentication,
)
from tests.tenant.billing.tenants import new_tenant, tenant_row
from workflows.tenant.contracts import TenantError
from workflows.tenant.plans import PLANS, Plan
from workflows.tenant.tenant_upgrade import (
    TenantUpgradeInput,
    TenantUpgradeResult,
    TenantUpgradeWorkflow,
    tenant_upgrade_workflow_id,
)

FREE = PLANS[Plan.FREE]
TEAM = PLANS[Plan.TEAM]
THREE_D_SECURE: Any = {
    "number": "4000002760003184",
    "exp_month": 12,
    "exp_year": 2030,
    "cvc": "123",
}
#: Long enough that only a delivered signal can end the wait within the test's patience.
PAYMENT_TIMEOUT = 300.0
PATIENCE = 30.0

Upgrade = WorkflowHandle[TenantUpgradeWorkflow, TenantUpgradeResult]


@pytest.fixture(scope="module")
async def tenant_app(
    tenant_resources: Resources, stripe_emulator: StripeEmulator
) -> AsyncIterator[FastAPI]:
    """The tenant service's app as the runner builds it, with ``ADX_BILLING_PROVIDER=stripe``
    and the emulator's API base, key and webhook secret (its provider made by the factory)."""
    stripe_settings = tenant_resources.settings.model_copy(
        update={
            "billing_provider": "stripe",
            "stripe_api_key": SecretStr(stripe_emulator.api_key),
            "stripe_api_base": stripe_emulator.api_base,
            "stripe_webhook_secret": SecretStr(stripe_emulator.webhook_secret),
        }
    )
    app = SPEC.build_app(dataclasses.replace(tenant_resources, settings=stripe_settings))
    yield app
    provider = getattr(app.state, "billing_provider", None)
    if provider is not None:
        await provider.aclose()


@pytest.fixture
async def http(tenant_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(tenant_app, base_url="http://tenant") as client:
        yield client


def sign(body: bytes, secret: str, stamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header as localstripe (and Stripe) make it."""
    stamp = int(time.time()) if stamp is None else stamp
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


async def post(
    http: httpx.AsyncClient,
    body: bytes,
    signature: str | None,
    content_type: str = "application/json; charset=utf-8",
) -> httpx.Response:
    """A delivery as Stripe makes it: no ``Authorization`` header, the signature header."""
    headers = {"content-type": content_type}
    if signature is not None:
        headers["stripe-signature"] = signature
    return await http.post(WEBHOOK_PATH, content=body, headers=headers)


def about(object_id: str, event_type: str) -> Callable[[Delivery], bool]:
    def match(delivery: Delivery) -> bool:
        event = json.loads(delivery.body)
        return bool(event["type"] == event_type and event["data"]["object"]["id"] == object_id)

    return match


async def waiting_upgrade(
    temporal: Client,
    queue: str,
    resources: Resources,
    billing: StripeBillingProvider,
) -> tuple[uuid.UUID, Upgrade, str]:
    """A tenant whose upgrade to ``team`` waits for a 3-D Secure payment: its id, the run and
    the invoice being paid."""
    tenant_id = await new_tenant(resources, "Webhook test")
    method = await billing.client.v1.payment_methods.create_async(
        params={"type": "card", "card": THREE_D_SECURE}
    )
    with acting_as(SecurityContext.system("test")):
        handle = await temporal.start_workflow(
            TenantUpgradeWorkflow.run,
            TenantUpgradeInput(
                tenant_id=str(tenant_id),
                actor_id=str(uuid.uuid4()),
                plan=Plan.TEAM.value,
                billing_email=f"{tenant_id.hex[:8]}@example.com",
                payment_method_id=method.id,
                payment_timeout_seconds=PAYMENT_TIMEOUT,
            ),
            id=tenant_upgrade_workflow_id(str(tenant_id)),
            task_queue=queue,
        )
    for _ in range(300):
        progress = await handle.query(TenantUpgradeWorkflow.progress)
        if progress.state == "waiting":
            break
        await asyncio.sleep(0.1)
    assert progress.state == "waiting", progress
    row = await tenant_row(resources, tenant_id)
    assert row.billing_customer_id is not None
    invoices = await billing.client.v1.invoices.list_async(
        params={"customer": row.billing_customer_id}
    )
    return tenant_id, handle, str(invoices.data[0].id)


async def signals_of(handle: WorkflowHandle[Any, Any]) -> int:
    history = await handle.fetch_history()
    signalled = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    return sum(1 for event in history.events if event.event_type == signalled)


async def test_a_verified_payment_signals_that_tenants_run_and_no_other(
    temporal: Client,
    upgrade_queue: str,
    tenant_resources: Resources,
    stripe_billing: StripeBillingProvider,
    stripe_emulator: StripeEmulator,
    stripe_webhook_inbox: WebhookInbox,
    http: httpx.AsyncClient,
) -> None:
    tenant_id, handle, invoice_id = await waiting_upgrade(
        temporal, upgrade_queue, tenant_resources, stripe_billing
    )
    _, bystander, _ = await waiting_upgrade(
        temporal, upgrade_queue, tenant_resources, stripe_billing
    )
    try:
        # The customer passes 3-D Secure; localstripe delivers invoice.payment_succeeded.
        await settle_authentication(stripe_emulator.api_base, invoice_id, success=True)
        delivery = await stripe_webhook_inbox.wait_for(
            about(invoice_id, "invoice.payment_succeeded")
        )

        answer = await post(http, delivery.body, delivery.signature)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"received": True, "outcome": "signalled"}

        result = await asyncio.wait_for(handle.result(), PATIENCE)
        assert (result.plan, result.previous_plan, result.invoice_id) == (
            "team",
            "free",
            invoice_id,
        )
        row = await tenant_row(tenant_resources, tenant_id)
        assert (row.plan, row.seat_quota, row.storage_quota_bytes) == (
            "team",
            TEAM.seat_quota,
            TEAM.storage_quota_bytes,
        )
        assert await signals_of(handle) == 1
        await record_history(handle, "tenant_upgrade")

        # The other tenant's run heard nothing and still waits.
        assert await signals_of(bystander) == 0
        assert (await bystander.query(TenantUpgradeWorkflow.progress)).state == "waiting"

        # Stripe redelivers (a lost 200): the run is closed, so it is acknowledged, no effect.
        again = await post(http, delivery.body, delivery.signature)
        assert again.status_code == 200, again.text
        assert again.json() == {"received": True, "outcome": "no_run"}
        assert (await tenant_row(tenant_resources, tenant_id)).plan == "team"
    finally:
        await bystander.terminate("test over")


async def test_a_verified_failed_payment_ends_the_run_on_the_old_plan(
    temporal: Client,
    upgrade_queue: str,
    tenant_resources: Resources,
    stripe_billing: StripeBillingProvider,
    stripe_emulator: StripeEmulator,
    stripe_webhook_inbox: WebhookInbox,
    http: httpx.AsyncClient,
) -> None:
    tenant_id, handle, invoice_id = await waiting_upgrade(
        temporal, upgrade_queue, tenant_resources, stripe_billing
    )
    await settle_authentication(stripe_emulator.api_base, invoice_id, success=False)
    delivery = await stripe_webhook_inbox.wait_for(about(invoice_id, "invoice.payment_failed"))

    answer = await post(http, delivery.body, delivery.signature)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "signalled"

    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), PATIENCE)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == TenantError.PAYMENT_FAILED
    row = await tenant_row(tenant_resources, tenant_id)
    assert (row.plan, row.seat_quota) == ("free", FREE.seat_quota)


async def test_refused_deliveries_signal_nothing(
    temporal: Client,
    upgrade_queue: str,
    tenant_resources: Resources,
    stripe_billing: StripeBillingProvider,
    stripe_emulator: StripeEmulator,
    stripe_webhook_inbox: WebhookInbox,
    http: httpx.AsyncClient,
) -> None:
    """The payment is confirmed at the provider before the forgeries arrive, so any signal that
    got through would finish the run: it must still wait, with no signal in its history.

    (A stamp in the future, signed with the secret, is accepted, as by Stripe's own library:
    only the secret's holder can make one, and Stripe signs with its current time.)"""
    _, handle, invoice_id = await waiting_upgrade(
        temporal, upgrade_queue, tenant_resources, stripe_billing
    )
    try:
        await settle_authentication(stripe_emulator.api_base, invoice_id, success=True)
        real = await stripe_webhook_inbox.wait_for(about(invoice_id, "invoice.payment_succeeded"))
        assert real.signature is not None
        secret = stripe_emulator.webhook_secret
        changed = real.body.replace(b'"paid"', b'"paid" ', 1)
        assert changed != real.body
        refused = {
            "no signature": (real.body, None),
            "empty signature": (real.body, ""),
            "wrong secret": (real.body, sign(real.body, "whsec_not_the_secret")),
            "stale (ten minutes old)": (real.body, sign(real.body, secret, int(time.time()) - 600)),
            "changed body, localstripe's signature": (changed, real.signature),
            "garbage header": (real.body, "t=abc,v1=zz"),
            "another body's signature": (real.body, sign(b"{}", secret)),
        }
        for case, (body, signature) in refused.items():
            answer = await post(http, body, signature)
            problem = assert_problem(answer, 401)
            assert problem["title"] == "Webhook refused", (case, problem)

        await asyncio.sleep(1.0)
        assert await signals_of(handle) == 0
        assert (await handle.query(TenantUpgradeWorkflow.progress)).state == "waiting"
    finally:
        await handle.terminate("test over")


async def test_bodies_that_are_no_event_are_refused(
    http: httpx.AsyncClient, tenant_app: FastAPI, stripe_emulator: StripeEmulator
) -> None:
    secret = stripe_emulator.webhook_secret
    # Signed right, but not a JSON event: refused by the verification's parse.
    for body in (b"not json at all", b"[]", b'{"type": "invoice.paid"}'):
        answer = await post(http, body, sign(body, secret), content_type="text/plain")
        assert assert_problem(answer, 401)["title"] == "Webhook refused"
    # Declared JSON but cut short, or not UTF-8 (refused by the JSON guard of
    # services/common/middleware.py before the route).
    body = b'{"id": "evt_1", "type": '
    assert assert_problem(await post(http, body, sign(body, secret)), 401)["title"] == (
        "Webhook refused"
    )
    body = b'{"id": "evt_\xff", "type": "invoice.payment_succeeded"}'
    assert_problem(await post(http, body, sign(body, secret)), 400)
    # A body past the limit (a megabyte by default), signed right: 413, never buffered whole.
    limit = tenant_app.state.resources.settings.max_body_bytes
    event = {"id": "evt_big", "type": "invoice.payment_succeeded", "pad": ""}
    body = json.dumps(event).encode()
    body = body[:-2] + b"x" * (limit + 1 - len(body)) + b'"}'
    assert len(body) == limit + 1
    assert_problem(await post(http, body, sign(body, secret)), 413)


async def test_events_for_customers_that_are_not_ours_are_acknowledged(
    stripe_billing: StripeBillingProvider,
    stripe_emulator: StripeEmulator,
    stripe_webhook_inbox: WebhookInbox,
    http: httpx.AsyncClient,
) -> None:
    """200 and nothing else: a retry could not make them ours (Stripe would retry for days)."""
    # A customer of the same Stripe account made by someone else (no adx_tenant_id).
    stranger = await stripe_billing.client.v1.customers.create_async(
        params={"email": f"other-{uuid.uuid4().hex[:8]}@example.com"}
    )
    await stripe_billing.attach_payment_method(stranger.id, "pm_card_visa", f"{stranger.id}:pm")
    subscription = await stripe_billing.create_subscription(
        stranger.id, Plan.TEAM, f"{stranger.id}:sub"
    )
    assert subscription.latest_invoice is not None
    delivery = await stripe_webhook_inbox.wait_for(
        about(subscription.latest_invoice.id, "invoice.payment_succeeded")
    )
    answer = await post(http, delivery.body, delivery.signature)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": True, "outcome": "ignored"}

    # A customer the provider does not know at all (deleted since), signed with the secret.
    event = json.loads(delivery.body)
    event["data"]["object"]["customer"] = f"cus_gone{uuid.uuid4().hex[:12]}"
    body = json.dumps(event).encode()
    answer = await post(http, body, sign(body, stripe_emulator.webhook_secret))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": True, "outcome": "ignored"}

    # Not an invoice payment event at all (localstripe's customer.created).
    created = await stripe_webhook_inbox.wait_for(about(stranger.id, "customer.created"))
    answer = await post(http, created.body, created.signature)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": True, "outcome": "ignored"}


async def test_the_webhook_is_the_only_route_it_opens(
    http: httpx.AsyncClient, tenant_app: FastAPI
) -> None:
    """No bearer token on the webhook (its signature is its credential); every other route of
    the tenant app but the common probes still refuses a caller without one."""
    body = b'{"id": "evt_x", "type": "customer.created"}'
    answer = await post(http, body, "t=1,v1=00")
    problem = assert_problem(answer, 401)  # the signature check's refusal, not the token guard's
    assert problem["title"] == "Webhook refused"

    opened = {
        (method, path)
        for _, method, path in route_operations(tenant_app)
        if public_reason(ServiceName.tenant, method, path) is not None
        and (method, path) not in COMMON_PUBLIC_ROUTES
        and (method, path) not in API_PORT_METRICS_ROUTES
    }
    assert opened == {("POST", WEBHOOK_PATH)}
    for method, path in (("GET", "/tenants"), ("GET", f"/tenants/{uuid.uuid4()}/members")):
        assert_problem(await http.request(method, path), 401)
