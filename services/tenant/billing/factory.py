"""``billing_provider(settings)``: the provider ``ADX_BILLING_PROVIDER`` names."""

from __future__ import annotations

from services.common.settings import Settings
from services.tenant.billing.provider import BillingError, BillingProvider


def billing_provider(settings: Settings) -> BillingProvider:
    if settings.billing_provider == "local":
        from services.tenant.billing.local import LocalBillingProvider

        return LocalBillingProvider()
    if settings.billing_provider == "stripe":
        from services.tenant.billing.stripe_provider import StripeBillingProvider

        if settings.stripe_api_key is None or settings.stripe_webhook_secret is None:
            raise BillingError("ADX_STRIPE_API_KEY and ADX_STRIPE_WEBHOOK_SECRET are required")
        return StripeBillingProvider(
            settings.stripe_api_key.get_secret_value(),
            settings.stripe_webhook_secret.get_secret_value(),
            api_base=settings.stripe_api_base,
        )
    raise BillingError(f"unknown billing provider {settings.billing_provider!r}")
