"""Activity contracts of ``tenant_suspension`` (docs/tenancy.md): suspend, resume, schedule the
deletion, export and erase a tenant's rows."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.common.contracts import ActivityContract
from workflows.tenant.contracts import TENANT
from workflows.tenant.membership_contracts import MemberState

#: Where a deleted tenant's export goes (every service writes its own part there).
EXPORT_PREFIX = "exports/tenants/{tenant_id}/{run_id}/"


def export_prefix(tenant_id: str, run_id: str) -> str:
    return EXPORT_PREFIX.format(tenant_id=tenant_id, run_id=run_id)


@dataclass
class TenantStatusChangeInput:
    tenant_id: str
    #: Who asks (checked against the run's security context and the tenant's rows).
    actor_id: str
    idempotency_key: str
    #: For ``schedule_deletion``: when the data goes (ISO 8601).
    delete_after: str | None = None


@dataclass
class TenantMembersOutput:
    """The tenant after the change, and its members (with their roles, for the claims)."""

    tenant_name: str
    status: str
    previous_status: str
    storage_prefix: str | None
    members: list[MemberState] = field(default_factory=list)


#: ``active`` -> ``suspended``: memberships kept, marked suspended; data untouched.
SUSPEND_TENANT = ActivityContract(
    "tenant.suspend_tenant", TENANT, TenantStatusChangeInput, TenantMembersOutput
)
#: ``suspended`` or ``deleting`` -> ``active``: memberships active again.
RESUME_TENANT = ActivityContract(
    "tenant.resume_tenant", TENANT, TenantStatusChangeInput, TenantMembersOutput
)
#: -> ``deleting`` with ``delete_after``: owners only; memberships suspended.
SCHEDULE_DELETION = ActivityContract(
    "tenant.schedule_deletion", TENANT, TenantStatusChangeInput, TenantMembersOutput
)
#: ``deleting`` -> ``suspended`` (a cancelled deletion of a tenant that was suspended before
#: it): ``delete_after`` cleared, memberships stay suspended, no claims come back.
CANCEL_DELETION = ActivityContract(
    "tenant.cancel_deletion", TENANT, TenantStatusChangeInput, TenantMembersOutput
)


@dataclass
class ExportTenantInput:
    tenant_id: str
    export_prefix: str
    idempotency_key: str


@dataclass
class ExportTenantOutput:
    #: The blob key of the JSON document of the tenant's rows in the tenants schema.
    key: str
    rows: int


EXPORT_TENANT = ActivityContract(
    "tenant.export_tenant", TENANT, ExportTenantInput, ExportTenantOutput
)


@dataclass
class EraseTenantInput:
    tenant_id: str
    idempotency_key: str


@dataclass
class EraseTenantOutput:
    #: False when it was gone already (a retried step).
    deleted: bool


#: The tenant row and, by cascade, every tenants-schema row of the tenant; only a tenant whose
#: deletion is due (status ``deleting``, ``delete_after`` passed).
ERASE_TENANT = ActivityContract("tenant.erase_tenant", TENANT, EraseTenantInput, EraseTenantOutput)
