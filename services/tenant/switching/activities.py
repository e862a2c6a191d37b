"""Activities of ``tenant_switching`` (task queue ``<prefix>-tenant``): the user's last active
tenant (``tenants.active_tenants``), the tenant audit entry of a switch and the permissions the
tenant service caches per member.

The audit trail: the tenant service owns no audit table, so (as the workflow service's run
audit, ``services/workflow/runs/audit.py``) each switch is appended to the Redis stream
``<prefix>:tenant:audit`` (trimmed to about ``AUDIT_MAX_ENTRIES``) and logged as
``tenant_switch_audited``, the durable copy shipped with the logs; ids only. A retried step
writes no second entry (a marker per idempotency key, kept ``AUDIT_MARKER_SECONDS``).

The permission cache: the tenant service keeps a member's effective permissions in Redis under
``permission_cache_key`` when it caches them at all; today its routes read them from the
database on each request (``services/tenant/access.py``), so the revocation finds nothing and
answers 0, and stays right once a cache uses that key."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.common.logging import get_logger
from services.common.resources import Resources
from services.common.security_context import require_context, require_flow, require_user_or_system
from storage.db import transaction
from storage.redis import RedisKeys
from storage.tenants.active_tenants import ActiveTenantRepository
from workflows.common.errors import business_error
from workflows.tenant import switching_contracts as contracts
from workflows.tenant.contracts import TenantError, TenantWorkflow

AUDIT_MAX_ENTRIES = 100_000
AUDIT_MARKER_SECONDS = 7 * 24 * 3600
_log = get_logger(__name__)


def audit_stream_key(keys: RedisKeys) -> str:
    return keys("tenant", "audit")


def permission_cache_key(keys: RedisKeys, tenant_id: str, user_id: str) -> str:
    """Where the tenant service caches ``user_id``'s effective permissions in ``tenant_id``."""
    return keys("tenant", "permissions", tenant_id, user_id)


def _uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError as error:
        raise business_error(TenantError.INVALID_INPUT, f"invalid {what}") from error


def _check(user_id: str) -> None:
    context = require_user_or_system(user_id)
    require_flow(context, TenantWorkflow.TENANT_SWITCHING)


class SwitchingActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    @contracts.RECORD_ACTIVE_TENANT.implement
    async def record_active_tenant(
        self, input: contracts.RecordActiveTenantInput
    ) -> contracts.RecordActiveTenantOutput:
        _check(input.user_id)
        user_id = _uuid(input.user_id, "user id")
        tenant_id = _uuid(input.tenant_id, "tenant id")
        try:
            switched_at = datetime.fromisoformat(input.switched_at)
        except ValueError as error:
            raise business_error(TenantError.INVALID_INPUT, "invalid switched_at") from error
        async with transaction(self.resources.database, tenant_id, user_id=user_id) as db:
            repo = ActiveTenantRepository(db)
            current = await repo.current(user_id)
            if current is not None and current.idempotency_key == input.idempotency_key:
                previous = current.previous_tenant_id  # a retried step: already written
                return contracts.RecordActiveTenantOutput(
                    previous_tenant_id=str(previous) if previous else None, recorded=True
                )
            if not await repo.is_active_member(user_id, tenant_id):
                raise business_error(TenantError.NOT_A_MEMBER, "not a member of this tenant")
            previous = current.tenant_id if current is not None else None
            recorded = await repo.record(
                user_id,
                tenant_id,
                previous=previous,
                switched_at=switched_at,
                idempotency_key=input.idempotency_key,
            )
        return contracts.RecordActiveTenantOutput(
            previous_tenant_id=str(previous) if previous else None, recorded=recorded
        )

    @contracts.RESTORE_ACTIVE_TENANT.implement
    async def restore_active_tenant(
        self, input: contracts.RestoreActiveTenantInput
    ) -> contracts.RestoreActiveTenantOutput:
        _check(input.user_id)
        user_id = _uuid(input.user_id, "user id")
        async with transaction(self.resources.database, user_id=user_id) as db:
            restored = await ActiveTenantRepository(db).restore(
                user_id, written_by=input.written_by
            )
        return contracts.RestoreActiveTenantOutput(restored=restored)

    @contracts.AUDIT_TENANT_SWITCH.implement
    async def audit_tenant_switch(
        self, input: contracts.AuditTenantSwitchInput
    ) -> contracts.AuditTenantSwitchOutput:
        _check(input.user_id)
        for raw, what in [
            (input.user_id, "user id"),
            (input.session_id, "session id"),
            (input.to_tenant_id, "tenant id"),
        ]:
            _uuid(raw, what)
        # The tenants left are recorded as the auth service sent them (ids it read from its own
        # session row), bounded; the cache step refuses one that is no tenant id.
        if len(input.from_tenant_ids) > 100 or any(len(t) > 64 for t in input.from_tenant_ids):
            raise business_error(TenantError.INVALID_INPUT, "too many or too long tenant ids")
        try:
            datetime.fromisoformat(input.switched_at)
        except ValueError as error:
            raise business_error(TenantError.INVALID_INPUT, "invalid switched_at") from error
        redis, keys = self.resources.redis, self.resources.redis_keys
        marker = keys("tenant", "audit-written", input.idempotency_key)
        if not await redis.set(marker, "1", nx=True, ex=AUDIT_MARKER_SECONDS):
            return contracts.AuditTenantSwitchOutput(recorded=False)
        entry = {
            "action": "tenant_switch",
            "at": input.switched_at,
            "user_id": input.user_id,
            "session_id": input.session_id,
            "tenant_id": input.to_tenant_id,
            "from_tenant_ids": ",".join(input.from_tenant_ids),
            "key": input.idempotency_key,
        }
        _log.info("tenant_switch_audited", **entry)
        try:
            fields: dict[Any, Any] = dict(entry)
            await redis.xadd(
                audit_stream_key(keys), fields, maxlen=AUDIT_MAX_ENTRIES, approximate=True
            )
        except Exception:
            await redis.delete(marker)  # not written: the retry writes it
            raise
        return contracts.AuditTenantSwitchOutput(recorded=True)

    @contracts.REVOKE_CACHED_PERMISSIONS.implement
    async def revoke_cached_permissions(
        self, input: contracts.RevokeCachedPermissionsInput
    ) -> contracts.RevokeCachedPermissionsOutput:
        context = require_context()
        require_flow(context, TenantWorkflow.TENANT_SWITCHING)
        if not context.acts_for(input.user_id):
            raise business_error(TenantError.PERMISSION_DENIED, "not your cache")
        _uuid(input.user_id, "user id"), _uuid(input.tenant_id, "tenant id")
        key = permission_cache_key(self.resources.redis_keys, input.tenant_id, input.user_id)
        revoked = int(await self.resources.redis.delete(key))
        return contracts.RevokeCachedPermissionsOutput(revoked=revoked)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.record_active_tenant,
            self.restore_active_tenant,
            self.audit_tenant_switch,
            self.revoke_cached_permissions,
        ]
