"""Activity contracts of ``tenant_switching`` (run on ``<prefix>-tenant``): the bookkeeping
after a user switched their session into another tenant (the switch itself is the auth service's
``POST /auth/switch-tenant``, immediate). The tenant service's activities run on its queue, the
last-tenant preference on the user service's."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.common.contracts import ActivityContract
from workflows.tenant.contracts import TENANT
from workflows.user.contracts import USER


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


# --- the other services' bookkeeping (patch ``tenant-switching-services``) -----------------


@dataclass
class AuditTenantSwitchInput:
    """The tenant service's audit entry of one (possibly merged) switch: ids only."""

    user_id: str
    session_id: str
    to_tenant_id: str
    #: Every tenant the session left (the merged switches' too), in order.
    from_tenant_ids: list[str]
    switched_at: str
    idempotency_key: str


@dataclass
class AuditTenantSwitchOutput:
    #: False: this key's entry was written before (a retried step).
    recorded: bool


AUDIT_TENANT_SWITCH = ActivityContract(
    "tenant.audit_tenant_switch", TENANT, AuditTenantSwitchInput, AuditTenantSwitchOutput
)


@dataclass
class RecordLastTenantInput:
    """The user service's copy: the ``last_tenant`` preference (user scope) of ``user_id``."""

    user_id: str
    tenant_id: str
    #: ISO 8601 moment of the switch: an older switch never overwrites a newer one.
    switched_at: str
    idempotency_key: str


@dataclass
class RecordLastTenantOutput:
    #: The preference's tenant before (None: none was recorded), for the compensation.
    previous_tenant_id: str | None
    previous_switched_at: str | None
    recorded: bool


RECORD_LAST_TENANT = ActivityContract(
    "user.record_last_tenant", USER, RecordLastTenantInput, RecordLastTenantOutput
)


@dataclass
class RestoreLastTenantInput:
    """Compensation of ``RECORD_LAST_TENANT``: put the previous preference back if the stored
    one is still what this run wrote (``tenant_id`` at ``switched_at``)."""

    user_id: str
    tenant_id: str
    switched_at: str
    previous_tenant_id: str | None
    previous_switched_at: str | None


@dataclass
class RestoreLastTenantOutput:
    restored: bool


RESTORE_LAST_TENANT = ActivityContract(
    "user.restore_last_tenant", USER, RestoreLastTenantInput, RestoreLastTenantOutput
)
