"""``tenant_suspension``'s activities on ``<prefix>-tenant``: status changes (the actor checked
against the tenant's rows: ``tenant.manage`` to suspend and resume, an owner to delete), the
export of the tenant's rows and their erasure. Idempotent: a status already reached is answered
as reached, an export is written under a fixed key, erasing twice changes nothing."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.resources import Resources
from services.common.security_context import SecurityContext
from services.tenant.provisioning.steps import (
    actor_membership,
    existing_tenant,
    parse_id,
    require_actor,
    step_context,
)
from storage.blobs import check_key
from storage.db import DbSession, transaction
from storage.tenants.lifecycle import (
    delete_tenant,
    export_rows,
    memberships,
    role_permissions,
    set_membership_status,
    tenant_row,
)
from storage.tenants.models import MembershipStatus, Tenant, TenantStatus
from workflows.common.errors import business_error
from workflows.tenant import rules
from workflows.tenant import suspension_contracts as contracts
from workflows.tenant.contracts import TenantError, TenantWorkflow
from workflows.tenant.membership_contracts import MemberState
from workflows.tenant.permissions import Permission, built_in_permissions

FLOWS = (TenantWorkflow.TENANT_SUSPENSION,)
#: Clock skew between the workflow's timer and the database allowed when a deletion is due.
DUE_SKEW = timedelta(seconds=5)


async def _members(db: DbSession, tenant: Tenant) -> list[MemberState]:
    custom = await role_permissions(db, tenant.id)
    states = []
    for row in await memberships(db, tenant.id):
        built_in = built_in_permissions(row.role)
        permissions = (
            sorted(p.value for p in built_in) if built_in is not None else custom.get(row.role, [])
        )
        states.append(MemberState(str(row.user_id), row.role, row.status, sorted(permissions)))
    return states


async def _output(db: DbSession, tenant: Tenant, previous: str) -> contracts.TenantMembersOutput:
    return contracts.TenantMembersOutput(
        tenant_name=tenant.name,
        status=tenant.status,
        previous_status=previous,
        storage_prefix=tenant.storage_prefix,
        members=await _members(db, tenant),
    )


def _not_active(tenant: Tenant) -> Exception:
    return business_error(TenantError.TENANT_NOT_ACTIVE, f"the tenant is {tenant.status}")


class SuspensionActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.database = resources.database

    async def _checked(
        self, db: DbSession, context: SecurityContext, input: contracts.TenantStatusChangeInput
    ) -> Tenant:
        tenant_id = parse_id(input.tenant_id, "tenant id")
        actor_id = require_actor(context, input.actor_id)
        tenant = await existing_tenant(db, tenant_id)
        await actor_membership(db, context, tenant_id, actor_id, (Permission.TENANT_MANAGE,))
        return tenant

    async def _transition(
        self,
        input: contracts.TenantStatusChangeInput,
        change: Callable[[DbSession, SecurityContext, Tenant], Awaitable[None]],
    ) -> contracts.TenantMembersOutput:
        """One status change in one transaction: the step's and the actor's checks, then
        ``change`` (which refuses a status it does not apply to), the tenant's status before it
        and its members after it."""
        context = step_context(input.idempotency_key, *FLOWS)
        tenant_id = parse_id(input.tenant_id, "tenant id")
        async with transaction(self.database, tenant_id) as db:
            tenant = await self._checked(db, context, input)
            previous = tenant.status
            await change(db, context, tenant)
            await db.flush()
            return await _output(db, tenant, previous)

    @contracts.SUSPEND_TENANT.implement
    async def suspend_tenant(
        self, input: contracts.TenantStatusChangeInput
    ) -> contracts.TenantMembersOutput:
        async def suspend(db: DbSession, _: SecurityContext, tenant: Tenant) -> None:
            if tenant.status not in (TenantStatus.ACTIVE.value, TenantStatus.SUSPENDED.value):
                raise _not_active(tenant)
            if tenant.status == TenantStatus.ACTIVE.value:
                tenant.status = TenantStatus.SUSPENDED.value
                tenant.suspended_at = datetime.now(UTC)
                await set_membership_status(db, tenant.id, MembershipStatus.SUSPENDED.value)

        return await self._transition(input, suspend)

    @contracts.RESUME_TENANT.implement
    async def resume_tenant(
        self, input: contracts.TenantStatusChangeInput
    ) -> contracts.TenantMembersOutput:
        async def resume(db: DbSession, _: SecurityContext, tenant: Tenant) -> None:
            if tenant.status == TenantStatus.DELETED.value:
                raise business_error(TenantError.TENANT_NOT_ACTIVE, "the tenant is deleted")
            if tenant.status in (TenantStatus.SUSPENDED.value, TenantStatus.DELETING.value):
                tenant.status = TenantStatus.ACTIVE.value
                tenant.suspended_at = None
                tenant.delete_after = None
                await set_membership_status(db, tenant.id, MembershipStatus.ACTIVE.value)
            elif tenant.status != TenantStatus.ACTIVE.value:
                raise _not_active(tenant)

        return await self._transition(input, resume)

    @contracts.SCHEDULE_DELETION.implement
    async def schedule_deletion(
        self, input: contracts.TenantStatusChangeInput
    ) -> contracts.TenantMembersOutput:
        async def schedule(db: DbSession, context: SecurityContext, tenant: Tenant) -> None:
            try:
                delete_after = datetime.fromisoformat(input.delete_after or "")
            except ValueError:
                raise business_error(
                    TenantError.INVALID_INPUT, "delete_after is ISO 8601"
                ) from None
            actor, _ = await actor_membership(
                db, context, tenant.id, parse_id(input.actor_id, "user id")
            )
            if actor is not None:
                try:
                    rules.check_owner_only(actor.role, "delete the tenant")
                except rules.RuleViolation as error:
                    raise business_error(error.error, error.message) from error
            if tenant.status not in (
                TenantStatus.ACTIVE.value,
                TenantStatus.SUSPENDED.value,
                TenantStatus.DELETING.value,
            ):
                raise _not_active(tenant)
            if tenant.status != TenantStatus.DELETING.value:
                tenant.status = TenantStatus.DELETING.value
                tenant.delete_after = delete_after
                tenant.suspended_at = tenant.suspended_at or datetime.now(UTC)
                await set_membership_status(db, tenant.id, MembershipStatus.SUSPENDED.value)

        return await self._transition(input, schedule)

    @contracts.CANCEL_DELETION.implement
    async def cancel_deletion(
        self, input: contracts.TenantStatusChangeInput
    ) -> contracts.TenantMembersOutput:
        """``deleting`` -> ``suspended``; a tenant already suspended is answered as it is."""

        async def cancel(db: DbSession, _: SecurityContext, tenant: Tenant) -> None:
            if tenant.status == TenantStatus.DELETING.value:
                tenant.status = TenantStatus.SUSPENDED.value
                tenant.delete_after = None
                tenant.suspended_at = tenant.suspended_at or datetime.now(UTC)
                await set_membership_status(db, tenant.id, MembershipStatus.SUSPENDED.value)
            elif tenant.status != TenantStatus.SUSPENDED.value:
                raise _not_active(tenant)

        return await self._transition(input, cancel)

    @contracts.EXPORT_TENANT.implement
    async def export_tenant(
        self, input: contracts.ExportTenantInput
    ) -> contracts.ExportTenantOutput:
        step_context(input.idempotency_key, *FLOWS)
        tenant_id = parse_id(input.tenant_id, "tenant id")
        if not input.export_prefix.startswith(f"exports/tenants/{tenant_id}/"):
            raise business_error(TenantError.INVALID_INPUT, "not this tenant's export area")
        async with transaction(self.database, tenant_id) as db:
            tenant = await existing_tenant(db, tenant_id, lock=False)
            if tenant.status != TenantStatus.DELETING.value:
                raise business_error(TenantError.TENANT_NOT_ACTIVE, "no deletion is scheduled")
            tables = await export_rows(db, tenant_id)
        key = check_key(f"{input.export_prefix}tenants.json")
        document = {"tenant_id": str(tenant_id), "schema": "tenants", "tables": tables}
        await self.resources.blobs.put(key, json.dumps(document, indent=1).encode())
        return contracts.ExportTenantOutput(
            key=key, rows=sum(len(rows) for rows in tables.values())
        )

    @contracts.ERASE_TENANT.implement
    async def erase_tenant(self, input: contracts.EraseTenantInput) -> contracts.EraseTenantOutput:
        step_context(input.idempotency_key, *FLOWS)
        tenant_id = parse_id(input.tenant_id, "tenant id")
        async with transaction(self.database, tenant_id) as db:
            tenant = await tenant_row(db, tenant_id, lock=True)
            if tenant is None:
                return contracts.EraseTenantOutput(deleted=False)
            due = (
                tenant.delete_after is not None
                and tenant.delete_after <= datetime.now(UTC) + DUE_SKEW
            )
            if tenant.status != TenantStatus.DELETING.value or not due:
                raise business_error(TenantError.TENANT_NOT_ACTIVE, "the deletion is not due")
            deleted = await delete_tenant(db, tenant_id)
        return contracts.EraseTenantOutput(deleted=deleted)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.suspend_tenant,
            self.resume_tenant,
            self.schedule_deletion,
            self.cancel_deletion,
            self.export_tenant,
            self.erase_tenant,
        ]
