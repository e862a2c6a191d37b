"""Activity contracts of the auth steps of ``user_onboarding`` (workflows/onboarding/): the
account of an address found or created without a password (the person sets one through the
``password_reset`` link), and its compensation (only an account this run created goes)."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.auth.contracts import AUTH
from workflows.common.contracts import ActivityContract


@dataclass
class EnsureAccountInput:
    #: Personal data: encrypted by the payload codec.
    email: str
    idempotency_key: str
    #: Only find (an invitation's person has signed in already): no account is created.
    must_exist: bool = False


@dataclass
class EnsureAccountOutput:
    user_id: str
    #: True when this step (under its key) created the account.
    created: bool


ENSURE_ACCOUNT = ActivityContract(
    "auth.ensure_onboarding_account", AUTH, EnsureAccountInput, EnsureAccountOutput
)


@dataclass
class RemoveOnboardedAccountInput:
    user_id: str
    #: The key ``auth.ensure_onboarding_account`` created it under.
    created_key: str


@dataclass
class RemoveOnboardedAccountOutput:
    removed: bool


REMOVE_ONBOARDED_ACCOUNT = ActivityContract(
    "auth.remove_onboarded_account",
    AUTH,
    RemoveOnboardedAccountInput,
    RemoveOnboardedAccountOutput,
)
