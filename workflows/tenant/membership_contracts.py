"""Activity contracts of ``membership_change`` (docs/tenancy.md), and the claims every tenant flow
sends to auth (``auth.sync_principal_claims``) for a member's role."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from workflows.auth.principal_contracts import SyncPrincipalClaimsInput
from workflows.common.contracts import ActivityContract
from workflows.tenant.contracts import TENANT
from workflows.tenant.permissions import built_in_permissions


class MembershipChangeKind(StrEnum):
    """What a ``membership_change`` run does (stable: histories and ids carry it)."""

    ACCEPT_INVITATION = "accept"
    CHANGE_ROLE = "change-role"
    REMOVE = "remove"
    LEAVE = "leave"
    TRANSFER_OWNERSHIP = "transfer-ownership"


# --- claims -------------------------------------------------------------------------------------


def claims_for_role(
    user_id: str,
    tenant_id: str,
    role: str,
    permissions: list[str] | None = None,
    *,
    revoke_sessions: bool = False,
) -> SyncPrincipalClaimsInput:
    """The claims of a member with ``role``; a built-in role's permissions are the catalogue's,
    a custom role's are passed in (from its row)."""
    if permissions is None:
        built_in = built_in_permissions(role)
        permissions = sorted(p.value for p in built_in) if built_in is not None else []
    return SyncPrincipalClaimsInput(
        user_id=user_id,
        tenant_id=tenant_id,
        roles=[role],
        revoke_tenant_sessions=revoke_sessions,
        permissions=sorted(permissions),
    )


def no_claims(user_id: str, tenant_id: str) -> SyncPrincipalClaimsInput:
    """No membership claim, and the user's sessions in the tenant ended at once."""
    return SyncPrincipalClaimsInput(
        user_id=user_id, tenant_id=tenant_id, roles=[], revoke_tenant_sessions=True
    )


@dataclass
class MemberClaims:
    """What auth should hold for one member after a change: ``role`` None removes the claim."""

    user_id: str
    role: str | None
    permissions: list[str] = field(default_factory=list)
    #: End the member's sessions in the tenant (removal, demotion).
    revoke_sessions: bool = False

    def sync_input(self, tenant_id: str) -> SyncPrincipalClaimsInput:
        if self.role is None:
            return no_claims(self.user_id, tenant_id)
        return claims_for_role(
            self.user_id,
            tenant_id,
            self.role,
            self.permissions,
            revoke_sessions=self.revoke_sessions,
        )


# --- the change itself -----------------------------------------------------------------------


@dataclass
class MemberState:
    """A member's row before a change (``role`` None: there was none), to restore it."""

    user_id: str
    role: str | None
    status: str | None = None
    permissions: list[str] = field(default_factory=list)


@dataclass
class ApplyMembershipChangeInput:
    tenant_id: str
    kind: str
    #: Who asks (checked against the run's security context).
    actor_id: str
    #: The member changed (None for an invitation: the actor joins).
    user_id: str | None = None
    role: str | None = None
    #: SHA-256 (hex) of the invitation token; the raw token never enters the workflow.
    invitation_token_hash: str | None = None
    #: The actor's address (from ``auth.account_emails``), compared with the invitation's.
    actor_email: str | None = None
    idempotency_key: str = ""


@dataclass
class ApplyMembershipChangeOutput:
    #: The claims to sync, in order.
    changes: list[MemberClaims] = field(default_factory=list)
    #: The rows before the change, for the compensation.
    previous: list[MemberState] = field(default_factory=list)
    #: The invitation accepted, if any (re-opened by the compensation).
    invitation_id: str | None = None
    #: The tenant's name (for the mail to a removed member); None in older outcomes.
    tenant_name: str | None = None


#: Checks the actor's permission and the rules (``workflows/tenant/rules.py``) against the
#: tenant's rows and applies the change in one transaction.
APPLY_MEMBERSHIP_CHANGE = ActivityContract(
    "tenant.apply_membership_change",
    TENANT,
    ApplyMembershipChangeInput,
    ApplyMembershipChangeOutput,
)


@dataclass
class RevertMembershipChangeInput:
    tenant_id: str
    previous: list[MemberState] = field(default_factory=list)
    invitation_id: str | None = None
    idempotency_key: str = ""


@dataclass
class RevertMembershipChangeOutput:
    restored: int


REVERT_MEMBERSHIP_CHANGE = ActivityContract(
    "tenant.revert_membership_change",
    TENANT,
    RevertMembershipChangeInput,
    RevertMembershipChangeOutput,
)
