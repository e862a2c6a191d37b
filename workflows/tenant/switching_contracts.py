"""Activity contracts of ``tenant_switching`` (task queue ``<prefix>-tenant``): the bookkeeping
after a user switched their session into another tenant (the switch itself is the auth service's
``POST /auth/switch-tenant``, immediate)."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.common.contracts import ActivityContract
from workflows.tenant.contracts import TENANT


@dataclass
class RecordActiveTenantInput:
    user_id: str
    tenant_id: str
    #: ISO 8601 moment of the switch: a retried older switch never overwrites a newer one.
    switched_at: str
    idempotency_key: str


@dataclass
class RecordActiveTenantOutput:
    #: The tenant recorded before (None: the user's first switch), for the compensation.
    previous_tenant_id: str | None
    recorded: bool


RECORD_ACTIVE_TENANT = ActivityContract(
    "tenant.record_active_tenant", TENANT, RecordActiveTenantInput, RecordActiveTenantOutput
)


@dataclass
class RestoreActiveTenantInput:
    """Compensation of ``RECORD_ACTIVE_TENANT``: put ``previous_tenant_id`` back if the row is
    still the one ``written_by`` (that step's idempotency key) wrote."""

    user_id: str
    previous_tenant_id: str | None
    written_by: str


@dataclass
class RestoreActiveTenantOutput:
    restored: bool


RESTORE_ACTIVE_TENANT = ActivityContract(
    "tenant.restore_active_tenant", TENANT, RestoreActiveTenantInput, RestoreActiveTenantOutput
)


@dataclass
class RevokeCachedPermissionsInput:
    """Drop what the tenant service caches of ``user_id``'s permissions in ``tenant_id``."""

    user_id: str
    tenant_id: str


@dataclass
class RevokeCachedPermissionsOutput:
    #: Cache entries removed (0: nothing was cached).
    revoked: int


REVOKE_CACHED_PERMISSIONS = ActivityContract(
    "tenant.revoke_cached_permissions",
    TENANT,
    RevokeCachedPermissionsInput,
    RevokeCachedPermissionsOutput,
)
