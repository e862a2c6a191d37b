"""Activity contracts of the tenant's part of the batched bulk import (``bulk_user_operation``'s
``import``, docs/users.md "Bulk operations"): a batch's memberships added in one transaction,
the actor's right (``members.manage``, the grant rules) checked once per role of the batch. The
batch's per-row outcomes are recorded under its key in the same transaction, so a retried batch
answers them again and adds nothing twice."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.common.contracts import ActivityContract
from workflows.tenant.contracts import TENANT

#: Rows per call (ids and role names only: far under Temporal's 2 MB payload limit).
MAX_MEMBER_ROWS = 500
ALREADY_MEMBER = "already a member of this tenant"


@dataclass
class MemberRow:
    row_number: int
    user_id: str
    role: str


@dataclass
class AddMembersInput:
    tenant_id: str
    #: Who asks (the run's starter): must hold ``members.manage`` and every permission granted.
    actor_id: str
    rows: list[MemberRow]
    idempotency_key: str


@dataclass
class MemberOutcome:
    row_number: int
    #: True when this batch added the membership (the compensation removes only those).
    created: bool = False
    #: The row's failure (unknown role, not allowed, already a member, no free seat).
    error: str | None = None
    #: The role's permissions (auth's claims), when the row was added.
    permissions: list[str] = field(default_factory=list)


@dataclass
class AddMembersOutput:
    outcomes: list[MemberOutcome] = field(default_factory=list)
    #: The tenant's name (the welcome mails name it).
    tenant_name: str = ""


ADD_MEMBERS = ActivityContract("tenant.bulk_add_members", TENANT, AddMembersInput, AddMembersOutput)


@dataclass
class RemoveBatchMembersInput:
    tenant_id: str
    #: The batch's key (``tenant.bulk_add_members``'s): only the memberships it added go.
    added_key: str
    #: Only these of them (the rows that failed in a later step); None: all it added.
    user_ids: list[str] | None = None


@dataclass
class RemoveBatchMembersOutput:
    removed: int


REMOVE_BATCH_MEMBERS = ActivityContract(
    "tenant.bulk_remove_members", TENANT, RemoveBatchMembersInput, RemoveBatchMembersOutput
)


# --- bulk ``invite``: one row's invitation ----------------------------------------------------


@dataclass
class InviteRowInput:
    tenant_id: str
    #: Who invites (the run's starter): needs ``members.invite`` and every permission of the role.
    actor_id: str
    #: Personal data: encrypted by the payload codec.
    email: str
    role: str
    idempotency_key: str


@dataclass
class InviteRowOutput:
    invitation_id: str
    #: False when a pending invitation of the address was issued again (new link and expiry).
    created: bool


#: The invitation of one row by the rules and mail of ``POST /tenants/{id}/invitations``
#: (``services/tenant/invitations/inviting.py``); its outcome recorded under the key with the
#: invitation, so a retry after the commit answers it and mails nobody twice.
INVITE_ROW = ActivityContract("tenant.bulk_invite", TENANT, InviteRowInput, InviteRowOutput)
