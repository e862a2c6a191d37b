"""Contract of the auth activity other services' workflows call to keep token claims in step
with tenant memberships (sessions are revoked with ``auth.revoke_sessions``, contracts.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.auth.contracts import AUTH
from workflows.common.contracts import ActivityContract


@dataclass
class SyncPrincipalClaimsInput:
    """The user's roles in a tenant; an empty ``roles`` list removes the membership claim."""

    user_id: str
    tenant_id: str
    roles: list[str] = field(default_factory=list)
    #: Also end the user's sessions in this tenant, so a lost role stops working at once.
    revoke_tenant_sessions: bool = False
    #: The effective permissions of ``roles`` (``workflows.tenant.permissions``), put in access
    #: tokens as ``perms``. Defaulted, so histories recorded before it replay.
    permissions: list[str] = field(default_factory=list)


@dataclass
class SyncPrincipalClaimsOutput:
    member: bool
    sessions_revoked: int


SYNC_PRINCIPAL_CLAIMS = ActivityContract(
    "auth.sync_principal_claims", AUTH, SyncPrincipalClaimsInput, SyncPrincipalClaimsOutput
)
