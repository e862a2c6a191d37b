"""``tenant.set_user_memberships``: the tenant step of the user service's ``user_deactivation``.
One user's memberships in every tenant are suspended (deactivation), or made active again in the
tenants that are active (reactivation; a suspended tenant's members stay suspended until it is
resumed). The answer lists every membership now in the status asked for, with its role and
permissions, so a retried step answers the same and the workflow syncs complete claims. Only
that flow (or the platform) may run it, under its run's key: the user service's first step
checked the actor. Idempotent by nature: a status set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.common.resources import Resources
from services.tenant.provisioning.steps import parse_id, permissions_of, step_context
from storage.db import transaction
from storage.tenants.lifecycle import tenant_row
from storage.tenants.models import MembershipStatus, TenantStatus
from storage.tenants.repository import MembershipRepository
from workflows.common.errors import business_error
from workflows.tenant import member_status_contracts as contracts
from workflows.tenant.contracts import TenantError
from workflows.user.contracts import UserWorkflow


class UserMembershipActivities:
    def __init__(self, resources: Resources) -> None:
        self.database = resources.database

    @contracts.SET_USER_MEMBERSHIPS.implement
    async def set_user_memberships(
        self, input: contracts.SetUserMembershipsInput
    ) -> contracts.SetUserMembershipsOutput:
        step_context(input.idempotency_key, UserWorkflow.USER_DEACTIVATION)
        user_id = parse_id(input.user_id, "user id")
        try:
            status = MembershipStatus(input.status)
        except ValueError:
            raise business_error(TenantError.INVALID_INPUT, "unknown membership status") from None
        # The user's own memberships are readable in every tenant (policy ``own_memberships``);
        # each is written in its own tenant's transaction (writes stay bound to the tenant).
        async with transaction(self.database, user_id=user_id) as db:
            tenant_ids = [
                m.tenant_id
                for m in await MembershipRepository(db, user_id).of_user_everywhere(user_id)
            ]
        output = contracts.SetUserMembershipsOutput()
        for tenant_id in tenant_ids:
            async with transaction(self.database, tenant_id) as db:
                tenant = await tenant_row(db, tenant_id, lock=True)
                row = await MembershipRepository(db, tenant_id).of_user(user_id)
                if tenant is None or row is None:
                    continue
                if status == MembershipStatus.ACTIVE and tenant.status != TenantStatus.ACTIVE:
                    continue
                if row.status != status.value:
                    row.status = status.value
                    await db.flush()
                    output.changed += 1
                permissions = await permissions_of(db, tenant_id, row.role)
                output.memberships.append(
                    contracts.UserMembership(
                        str(tenant_id), row.role, sorted(p.value for p in permissions)
                    )
                )
        return output

    def all(self) -> list[Callable[..., Any]]:
        return [self.set_user_memberships]
