"""The account rule of onboarding, shared by ``auth.ensure_onboarding_account`` (one person) and
``auth.bulk_ensure_accounts`` (a bulk import's rows): the address normalised one way, an
existing account found and counted as created only when the step's own key made it (a retry
finding its own work), a new one created without a password under that key."""

from __future__ import annotations

from services.auth.activity_base import normalize_email


def onboarding_address(raw: str) -> str:
    """The address as accounts store it; an invalid one is the step's business error."""
    return normalize_email(raw)


def made_by_step(account_key: str | None, step_key: str) -> bool:
    """Whether an account found by address is the one this step (under ``step_key``) created."""
    return account_key == step_key
