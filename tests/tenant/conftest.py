"""Fixtures of the tenant tests."""

from __future__ import annotations

# --- billing: the Stripe emulator (services/tenant/billing, docs/billing.md) -------------------
import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web

from services.devstack.ports import free_port
from services.devstack.stripe import (
    EMULATOR_API_KEY,
    register_webhook,
    start_stripe_emulator,
    stripe_emulator_url,
)
from services.tenant.billing.stripe_provider import StripeBillingProvider, ensure_stripe_plans

STRIPE_TEST_WEBHOOK_SECRET = "whsec_adx_tests"


@dataclass(frozen=True)
class StripeEmulator:
    api_base: str
    api_key: str
    webhook_secret: str


@pytest.fixture(scope="session")
async def stripe_emulator() -> AsyncIterator[StripeEmulator]:
    """A real localstripe process for the session (services/devstack/stripe.py)."""
    port = free_port()
    proc = await asyncio.to_thread(start_stripe_emulator, port, echo=False, die_with_parent=True)
    yield StripeEmulator(stripe_emulator_url(port), EMULATOR_API_KEY, STRIPE_TEST_WEBHOOK_SECRET)
    await asyncio.to_thread(proc.stop)


@pytest.fixture(scope="session")
async def stripe_billing(stripe_emulator: StripeEmulator) -> AsyncIterator[StripeBillingProvider]:
    """The Stripe provider pointed at the emulator, with the ADX plans created."""
    provider = StripeBillingProvider(
        stripe_emulator.api_key, stripe_emulator.webhook_secret, api_base=stripe_emulator.api_base
    )
    await ensure_stripe_plans(provider)
    yield provider
    await provider.aclose()


@dataclass
class Delivery:
    body: bytes
    signature: str | None


@dataclass
class WebhookInbox:
    """What localstripe delivered to the test receiver, as it arrived (body and signature)."""

    deliveries: list[Delivery] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(self, match: Callable[[Delivery], bool], timeout: float = 15) -> Delivery:
        async def first() -> Delivery:
            while True:
                for delivery in self.deliveries:
                    if match(delivery):
                        return delivery
                self.arrived.clear()
                await self.arrived.wait()

        return await asyncio.wait_for(first(), timeout)


@pytest.fixture(scope="session")
async def stripe_webhook_inbox(stripe_emulator: StripeEmulator) -> AsyncIterator[WebhookInbox]:
    """A tiny HTTP receiver registered as localstripe's webhook endpoint ``adx-tests``."""
    inbox = WebhookInbox()

    async def receive(request: web.Request) -> web.Response:
        inbox.deliveries.append(
            Delivery(await request.read(), request.headers.get("Stripe-Signature"))
        )
        inbox.arrived.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    await asyncio.to_thread(
        register_webhook,
        stripe_emulator.api_base,
        f"http://127.0.0.1:{port}/hook",
        stripe_emulator.webhook_secret,
        name="adx-tests",
    )
    yield inbox
    await runner.cleanup()


async def settle_authentication(api_base: str, invoice_id: str, *, success: bool) -> None:
    """Play the customer's 3-D Secure answer for an invoice's pending payment (localstripe's
    ``POST /v1/payment_intents/<id>/_authenticate``, what its Stripe.js stand-in calls)."""
    headers = {"Authorization": f"Bearer {EMULATOR_API_KEY}"}
    async with httpx.AsyncClient(base_url=api_base, headers=headers, timeout=10) as http:
        invoice = (await http.get(f"/v1/invoices/{invoice_id}")).json()
        intent = (await http.get(f"/v1/payment_intents/{invoice['payment_intent']}")).json()
        answer = await http.post(
            f"/v1/payment_intents/{intent['id']}/_authenticate",
            data={"client_secret": intent["client_secret"], "success": str(success).lower()},
        )
        answer.raise_for_status()


# --- end of billing ------------------------------------------------------------------------------


# --- tenant workflows (tests/tenant/workflows): auth, tenant and file workers in process ---------
import uuid  # noqa: E402
from collections.abc import Mapping  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402
from typing import Any  # noqa: E402

from temporalio import activity  # noqa: E402

from services.common.resources import Resources  # noqa: E402
from services.common.settings import ServiceName, Settings  # noqa: E402
from services.common.temporal import build_worker  # noqa: E402
from tests.tenant.workflows.stack import TenantStack  # noqa: E402


def _activity_name(fn: Callable[..., Any]) -> str:
    return activity._Definition.must_from_callable(fn).name


@pytest.fixture
def tenant_stack(
    settings: Settings,
    auth_resources: Resources,
    tenant_resources: Resources,
    file_resources: Resources,
    user_resources: Resources,
) -> Callable[..., Any]:
    """``async with tenant_stack(replace={...}) as stack``: the auth, tenant, file and user workers on a
    fresh task-queue prefix; ``replace`` maps activity names to stand-ins registered under the
    same contract name (``@CONTRACT.implement``) on their service's queue."""
    from services.auth.service import SPEC as AUTH
    from services.file.service import SPEC as FILE
    from services.tenant.service import SPEC as TENANT
    from services.user.service import SPEC as USER

    @asynccontextmanager
    async def run(
        replace: Mapping[str, Callable[..., Any]] | None = None,
    ) -> AsyncIterator[TenantStack]:
        stand_ins = dict(replace or {})
        prefix = f"tw{uuid.uuid4().hex[:8]}"
        local = settings.model_copy(update={"task_queue_prefix": prefix})
        workers = []
        for spec, resources in (
            (AUTH, auth_resources),
            (TENANT, tenant_resources),
            (FILE, file_resources),
            (USER, user_resources),
        ):
            service = spec.name.value
            activities = [
                a for a in spec.activities(resources) if _activity_name(a) not in stand_ins
            ]
            activities += [a for n, a in stand_ins.items() if n.split(".")[0] == service]
            workers.append(
                build_worker(
                    resources.temporal,
                    local,
                    task_queue=local.task_queue(spec.name),
                    workflows=spec.workflows,
                    activities=activities,
                )
            )
        tasks = [asyncio.create_task(w.run()) for w in workers]
        try:
            yield TenantStack(prefix=prefix, queue=local.task_queue(ServiceName.tenant))
        finally:
            await asyncio.gather(*(w.shutdown() for w in workers))
            await asyncio.gather(*tasks, return_exceptions=True)

    return run


# --- end of tenant workflows ---------------------------------------------------------------------
