"""Activities of ``tenant_switching`` (task queue ``<prefix>-tenant``): the user's last active
tenant (``tenants.active_tenants``) and the permissions the tenant service caches per member.

The permission cache: the tenant service keeps a member's effective permissions in Redis under
``permission_cache_key`` when it caches them at all; today its routes read them from the
database on each request (``services/tenant/access.py``), so the revocation finds nothing and
answers 0, and stays right once a cache uses that key."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.common.resources import Resources
from services.common.security_context import require_context, require_flow, require_user_or_system
from storage.db import transaction
from storage.redis import RedisKeys
from storage.tenants.active_tenants import ActiveTenantRepository
from workflows.common.errors import business_error
from workflows.tenant import switching_contracts as contracts
from workflows.tenant.contracts import TenantError, TenantWorkflow


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
            self.revoke_cached_permissions,
        ]
