"""Contract of the tenant step of ``user_deactivation`` (a user service workflow): one user's
memberships in every tenant suspended, or made active again."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.common.contracts import ActivityContract
from workflows.tenant.contracts import TENANT


@dataclass
class UserMembership:
    tenant_id: str
    role: str
    #: The role's effective permissions (for the claims restored on reactivation).
    permissions: list[str] = field(default_factory=list)


@dataclass
class SetUserMembershipsInput:
    user_id: str
    #: ``suspended`` (every membership) or ``active`` (those in active tenants only: a tenant
    #: that is itself suspended keeps its members suspended).
    status: str
    idempotency_key: str


@dataclass
class SetUserMembershipsOutput:
    #: Every membership of the user now in ``status`` (not only the ones this call changed), so
    #: a retried step answers the same and the claims that follow are complete.
    memberships: list[UserMembership] = field(default_factory=list)
    changed: int = 0


SET_USER_MEMBERSHIPS = ActivityContract(
    "tenant.set_user_memberships", TENANT, SetUserMembershipsInput, SetUserMembershipsOutput
)
