"""Activity contracts of auth's part of the batched bulk import (``bulk_user_operation``'s
``import``, docs/users.md "Bulk operations"): the accounts of a batch of rows found or created
without a password, in one transaction. Each row is keyed by its own idempotency key, so a
retried batch (a worker crash after the commit) finds the accounts it created and creates none
twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from workflows.auth.contracts import AUTH
from workflows.common.contracts import ActivityContract

#: Rows per call: an e-mail is at most 320 characters, so 500 rows stay far under Temporal's
#: 2 MB payload limit (about 200 kB with the keys, before the codec).
MAX_ACCOUNT_ROWS = 500


@dataclass
class AccountRow:
    row_number: int
    #: Personal data: encrypted by the payload codec.
    email: str


@dataclass
class EnsureAccountsInput:
    rows: list[AccountRow]
    #: The batch's key; row ``n``'s account is created under ``<key>:row:<n>``.
    idempotency_key: str


@dataclass
class AccountOutcome:
    row_number: int
    #: None when the row failed (``error`` says why).
    user_id: str | None = None
    #: True when this batch (under the row's key) created the account.
    created: bool = False
    error: str | None = None


@dataclass
class EnsureAccountsOutput:
    outcomes: list[AccountOutcome] = field(default_factory=list)


ENSURE_ACCOUNTS = ActivityContract(
    "auth.bulk_ensure_accounts", AUTH, EnsureAccountsInput, EnsureAccountsOutput
)


@dataclass
class RemoveBatchAccountsInput:
    #: The accounts the batch reported ``created``.
    user_ids: list[str]
    #: The batch's key (``auth.bulk_ensure_accounts``'s): only accounts made under it go.
    created_key: str


@dataclass
class RemoveBatchAccountsOutput:
    removed: list[str] = field(default_factory=list)


REMOVE_BATCH_ACCOUNTS = ActivityContract(
    "auth.bulk_remove_accounts", AUTH, RemoveBatchAccountsInput, RemoveBatchAccountsOutput
)


@dataclass
class MemberClaims:
    user_id: str
    role: str
    #: The role's permissions (``tenant.bulk_add_members`` answers them), put in tokens.
    permissions: list[str] = field(default_factory=list)


@dataclass
class PutBatchClaimsInput:
    tenant_id: str
    #: The members the batch added (``tenant.bulk_add_members``'s ``created`` rows) only.
    members: list[MemberClaims]
    idempotency_key: str


@dataclass
class PutBatchClaimsOutput:
    synced: int


PUT_BATCH_CLAIMS = ActivityContract(
    "auth.bulk_put_claims", AUTH, PutBatchClaimsInput, PutBatchClaimsOutput
)


@dataclass
class RemoveBatchClaimsInput:
    tenant_id: str
    #: Members whose claims ``auth.bulk_put_claims`` put for the batch (their memberships are
    #: being removed by the same compensation).
    user_ids: list[str]
    #: The batch's claims key (``auth.bulk_put_claims``'s).
    idempotency_key: str


@dataclass
class RemoveBatchClaimsOutput:
    removed: int


#: The compensation of ``auth.bulk_put_claims``: the members' claims in the tenant removed
#: (what ``auth.sync_principal_claims`` with no roles leaves: no role, no permission there).
REMOVE_BATCH_CLAIMS = ActivityContract(
    "auth.bulk_remove_claims", AUTH, RemoveBatchClaimsInput, RemoveBatchClaimsOutput
)


# --- the set-password links of a batch's new accounts (``bulk_password_links``) -------------

#: The workflow that mails a batch's set-password links and redeems them (one per batch).
BULK_PASSWORD_LINKS: Final = "bulk_password_links"  # noqa: S105 - a workflow name


@dataclass
class MailPasswordLinksInput:
    #: The accounts the batch created (``auth.bulk_ensure_accounts``' ``created`` rows).
    user_ids: list[str]
    #: That batch's accounts key: only accounts created under its row keys that still have no
    #: password get a link.
    accounts_key: str
    ttl_seconds: float
    #: The links run's key; user ``u``'s token and mail are keyed ``<key>:<u>``.
    idempotency_key: str


@dataclass
class MailPasswordLinksOutput:
    #: Links mailed (now or by an earlier attempt): how many the run may redeem.
    mailed: int


#: Each new account's reset token issued (its hash stored, bound to the calling run) and mailed
#: in one step: the raw token exists only there and in the mail, never in a payload.
MAIL_PASSWORD_LINKS = ActivityContract(
    "auth.bulk_mail_password_links",
    AUTH,
    MailPasswordLinksInput,
    MailPasswordLinksOutput,
    start_to_close=timedelta(minutes=5),
)
