"""Fixtures of the tenant tests."""

from __future__ import annotations

# --- billing: the Stripe emulator (services/tenant/billing, docs/billing.md) -------------------
import asyncio
from collections.abc import AsyncIterator, Callable

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
from tests.tenant.billing.stripe_emulator import (
    STRIPE_TEST_WEBHOOK_SECRET,
    Delivery,
    StripeEmulator,
    WebhookInbox,
)


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


# --- end of billing ------------------------------------------------------------------------------


# --- tenant workflows (tests/tenant/workflows): auth, tenant, file and user workers in process ---
import uuid  # noqa: E402
from collections.abc import Mapping  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402
from typing import Any  # noqa: E402

from services.common.resources import Resources  # noqa: E402
from services.common.settings import ServiceName, Settings  # noqa: E402
from tests.tenant.workflows.stack import TenantStack  # noqa: E402
from tests.workers import running_workers  # noqa: E402


@pytest.fixture
def tenant_stack(
    settings: Settings,
    auth_resources: Resources,
    tenant_resources: Resources,
    file_resources: Resources,
    user_resources: Resources,
) -> Callable[..., Any]:
    """``async with tenant_stack(replace={...}) as stack``: the auth, tenant, file and user workers
    on a fresh task-queue prefix; ``replace`` maps activity names to stand-ins registered under
    the same contract name (``@CONTRACT.implement``) on their service's queue
    (``tests/workers.py``)."""
    from services.auth.service import SPEC as AUTH
    from services.file.service import SPEC as FILE
    from services.tenant.service import SPEC as TENANT
    from services.user.service import SPEC as USER

    services = (
        (AUTH, auth_resources),
        (TENANT, tenant_resources),
        (FILE, file_resources),
        (USER, user_resources),
    )

    @asynccontextmanager
    async def run(
        replace: Mapping[str, Callable[..., Any]] | None = None,
    ) -> AsyncIterator[TenantStack]:
        prefix = f"tw{uuid.uuid4().hex[:8]}"
        async with running_workers(settings, services, prefix, replace) as local:
            yield TenantStack(prefix=prefix, queue=local.task_queue(ServiceName.tenant))

    return run


# --- end of tenant workflows ---------------------------------------------------------------------
