"""Plans and the quotas they carry (docs/tenancy.md, docs/billing.md). Quotas change only when a
plan change is confirmed (``tenant_upgrade``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

GIB: Final = 1024**3


class Plan(StrEnum):
    FREE = "free"
    TEAM = "team"
    BUSINESS = "business"


@dataclass(frozen=True)
class PlanTerms:
    plan: Plan
    seat_quota: int
    storage_quota_bytes: int
    #: Price per month in the smallest currency unit (cents); 0 needs no subscription.
    monthly_amount: int
    #: The Stripe plan id (``/v1/plans``) of a paid plan.
    stripe_plan_id: str | None


PLANS: Final[dict[Plan, PlanTerms]] = {
    Plan.FREE: PlanTerms(Plan.FREE, 5, 1 * GIB, 0, None),
    Plan.TEAM: PlanTerms(Plan.TEAM, 50, 100 * GIB, 2900, "adx-team"),
    Plan.BUSINESS: PlanTerms(Plan.BUSINESS, 500, 1024 * GIB, 9900, "adx-business"),
}

CURRENCY: Final = "usd"


def terms(plan: str) -> PlanTerms:
    """The terms of ``plan``; ValueError for an unknown plan."""
    return PLANS[Plan(plan)]
