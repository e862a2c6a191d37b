"""Contract of the read-only auth activity other services' workflows call for the addresses of
accounts (auth owns e-mail addresses): the tenant flows mail members and check that the caller
accepting an invitation is the invited address."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.auth.contracts import AUTH
from workflows.common.contracts import ActivityContract

MAX_ACCOUNTS = 500


@dataclass
class AccountEmail:
    user_id: str
    #: Normalised (lower-cased) address.
    email: str
    verified: bool


@dataclass
class AccountEmailsInput:
    user_ids: list[str] = field(default_factory=list)


@dataclass
class AccountEmailsOutput:
    #: The accounts found, in no particular order; unknown ids are left out.
    accounts: list[AccountEmail] = field(default_factory=list)


ACCOUNT_EMAILS = ActivityContract(
    "auth.account_emails", AUTH, AccountEmailsInput, AccountEmailsOutput
)
