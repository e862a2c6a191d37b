"""The Stripe emulator in tests: what the fixtures of tests/tenant/conftest.py yield (the emulator's
address and keys, the inbox of webhook deliveries) and the customer's 3-D Secure answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from services.devstack.stripe import EMULATOR_API_KEY

STRIPE_TEST_WEBHOOK_SECRET = "whsec_adx_tests"


@dataclass(frozen=True)
class StripeEmulator:
    api_base: str
    api_key: str
    webhook_secret: str


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
