"""The tenant steps of ``user_onboarding`` (task queue ``<prefix>-tenant``): may the actor onboard
this person into the tenant with this role (checked before anything is written anywhere), the
membership added once per key (its outcome recorded in the same transaction, so a retried step
answers the first outcome), and the compensation that removes only a membership this step added.

Who may: an active member with ``members.manage`` who holds every permission of the role (an
owner only makes owners; the grant rules of ``workflows/tenant/rules.py``), or, for an accepted
invitation (source ``invitation``), the person themself, a member already; the platform
(``system``, e.g. a SCIM write) passes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from services.common.resources import Resources
from services.common.security_context import SecurityContext, require_context, require_flow
from services.tenant.provisioning.steps import (
    actor_membership,
    existing_tenant,
    parse_id,
    permissions_of,
    require_actor,
    step_context,
)
from storage.db import DbSession, transaction
from storage.tenants.models import MembershipStatus, Tenant, TenantStatus
from storage.tenants.repository import MembershipChangeOutcomeRepository, MembershipRepository
from workflows.common.errors import business_error
from workflows.onboarding.contracts import OnboardingWorkflow
from workflows.tenant import onboarding_contracts as contracts
from workflows.tenant import rules
from workflows.tenant.contracts import TenantError
from workflows.tenant.permissions import BuiltInRole, Permission, is_built_in

FLOWS = (OnboardingWorkflow.USER_ONBOARDING,)
INVITATION = "invitation"
MAX_ROLE = 50


async def authorise_onboarding(
    db: DbSession,
    context: SecurityContext,
    tenant_id: uuid.UUID,
    actor_id: uuid.UUID,
    role: str,
    source: str,
) -> tuple[Tenant, frozenset[Permission]]:
    """The tenant and the role's permissions, once the actor may onboard into it with it."""
    if not 1 <= len(role) <= MAX_ROLE:
        raise business_error(TenantError.INVALID_INPUT, f"a role has 1-{MAX_ROLE} characters")
    tenant = await existing_tenant(db, tenant_id, lock=False)
    if source == INVITATION:
        # The person themself, who accepted the invitation (membership_change) just before.
        own = await MembershipRepository(db, tenant_id).of_user(actor_id)
        if own is None or own.role != role:
            raise business_error(TenantError.NOT_A_MEMBER, f"tenant {tenant_id} not found")
    else:
        actor, granted = await actor_membership(
            db, context, tenant_id, actor_id, (Permission.MEMBERS_MANAGE,)
        )
        if actor is not None and actor.status != MembershipStatus.ACTIVE.value:
            raise business_error(TenantError.TENANT_NOT_ACTIVE, "your membership is suspended")
    if tenant.status != TenantStatus.ACTIVE.value:
        raise business_error(TenantError.TENANT_NOT_ACTIVE, f"the tenant is {tenant.status}")
    permissions = await permissions_of(db, tenant_id, role)
    if not is_built_in(role) and not permissions:
        raise business_error(TenantError.UNKNOWN_ROLE, f"no role {role!r} here")
    if source != INVITATION:
        try:
            rules.check_role_assignment(
                actor.role if actor is not None else BuiltInRole.OWNER.value, role
            )
            rules.check_grant(granted, permissions)
        except rules.RuleViolation as error:
            raise business_error(error.error, error.message) from error
    return tenant, permissions


def _sorted(permissions: frozenset[Permission]) -> list[str]:
    return sorted(p.value for p in permissions)


class OnboardingMemberActivities:
    def __init__(self, resources: Resources) -> None:
        self.database = resources.database

    @contracts.CHECK_ONBOARDING.implement
    async def check_onboarding(
        self, input: contracts.CheckOnboardingInput
    ) -> contracts.CheckOnboardingOutput:
        """Read-only: refuses before the onboarding writes anything anywhere."""
        context = require_context()
        require_flow(context, *FLOWS)
        actor_id = require_actor(context, input.actor_id)
        tenant_id = parse_id(input.tenant_id, "tenant id")
        async with transaction(self.database, tenant_id) as db:
            tenant, permissions = await authorise_onboarding(
                db, context, tenant_id, actor_id, input.role, input.source
            )
        return contracts.CheckOnboardingOutput(
            tenant_name=tenant.name, permissions=_sorted(permissions)
        )

    @contracts.ADD_ONBOARDED_MEMBER.implement
    async def add_onboarded_member(
        self, input: contracts.AddOnboardedMemberInput
    ) -> contracts.AddOnboardedMemberOutput:
        context = step_context(input.idempotency_key, *FLOWS)
        actor_id = require_actor(context, input.actor_id)
        tenant_id = parse_id(input.tenant_id, "tenant id")
        user_id = parse_id(input.user_id, "user id")
        if input.source == INVITATION and user_id != actor_id:
            raise business_error(TenantError.INVALID_INPUT, "an invitation onboards its person")
        async with transaction(self.database, tenant_id) as db:
            outcomes = MembershipChangeOutcomeRepository(db, tenant_id)
            recorded = await outcomes.of_key(input.idempotency_key)
            if recorded is not None:
                return contracts.AddOnboardedMemberOutput(**recorded)  # an earlier attempt's
            tenant, permissions = await authorise_onboarding(
                db, context, tenant_id, actor_id, input.role, input.source
            )
            members = MembershipRepository(db, tenant_id)
            existing = await members.of_user(user_id)
            if existing is not None:
                output = contracts.AddOnboardedMemberOutput(
                    created=False,
                    role=existing.role,
                    permissions=_sorted(await permissions_of(db, tenant_id, existing.role)),
                )
            else:
                if await members.count_active() >= tenant.seat_quota:
                    raise business_error(
                        TenantError.SEAT_QUOTA_EXCEEDED, "the tenant has no free seat on its plan"
                    )
                await members.add_member(user_id, input.role)
                output = contracts.AddOnboardedMemberOutput(
                    created=True, role=input.role, permissions=_sorted(permissions)
                )
            # Committed with the membership or not at all.
            await outcomes.record(
                input.idempotency_key,
                {"created": output.created, "role": output.role, "permissions": output.permissions},
            )
        return output

    @contracts.REMOVE_ONBOARDED_MEMBER.implement
    async def remove_onboarded_member(
        self, input: contracts.RemoveOnboardedMemberInput
    ) -> contracts.RemoveOnboardedMemberOutput:
        """The compensation: the membership goes only if the step under ``added_key`` (this
        run's) created it; a member who was one before is never touched."""
        step_context(input.added_key, *FLOWS)
        tenant_id = parse_id(input.tenant_id, "tenant id")
        user_id = parse_id(input.user_id, "user id")
        async with transaction(self.database, tenant_id) as db:
            recorded = await MembershipChangeOutcomeRepository(db, tenant_id).of_key(
                input.added_key
            )
            if recorded is None or not recorded.get("created"):
                return contracts.RemoveOnboardedMemberOutput(removed=False)
            members = MembershipRepository(db, tenant_id)
            row = await members.of_user(user_id)
            if row is None:
                return contracts.RemoveOnboardedMemberOutput(removed=False)
            await members.remove(row)
        return contracts.RemoveOnboardedMemberOutput(removed=True)

    def all(self) -> list[Callable[..., Any]]:
        return [self.check_onboarding, self.add_onboarded_member, self.remove_onboarded_member]
