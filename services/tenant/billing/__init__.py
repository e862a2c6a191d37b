"""Billing of the tenant service: the provider interface (``provider.py``), its Stripe and
local implementations, the plan-change activities and the Stripe webhook route
(docs/billing.md)."""
