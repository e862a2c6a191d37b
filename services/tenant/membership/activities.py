"""``membership_change``'s activities on ``<prefix>-tenant``: the change checked (the actor's
permission from the tenant's rows, ``workflows/tenant/rules.py``) and applied in one
transaction, and its compensation. The outcome of an applied change (with the rows as they were
before it, for the compensation) is recorded under its key in that same transaction
(``tenants.membership_change_outcomes``), so a retried step answers the first outcome instead of
applying twice or reading the changed rows as the "before", even if the worker died right after
the commit. A removed member is mailed once (``member_removed``, by the workflow)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from services.common.resources import Resources
from services.tenant.provisioning.steps import (
    actor_membership,
    existing_tenant,
    parse_id,
    permissions_of,
    require_actor,
    step_context,
)
from storage.db import DbSession, transaction
from storage.tenants.models import InvitationStatus, Membership, MembershipStatus, TenantStatus
from storage.tenants.repository import (
    InvitationRepository,
    MembershipChangeOutcomeRepository,
    MembershipRepository,
    invitation_by_token,
)
from workflows.common.errors import business_error
from workflows.tenant import membership_contracts as contracts
from workflows.tenant import rules
from workflows.tenant.contracts import TenantError, TenantWorkflow
from workflows.tenant.membership_contracts import MemberClaims, MembershipChangeKind, MemberState
from workflows.tenant.permissions import BuiltInRole, Permission, is_built_in

FLOWS = (TenantWorkflow.MEMBERSHIP_CHANGE,)
OWNER = BuiltInRole.OWNER.value
ADMIN = BuiltInRole.ADMIN.value


def _violation(error: rules.RuleViolation) -> Exception:
    return business_error(error.error, error.message)


def _sorted(permissions: frozenset[Permission]) -> list[str]:
    return sorted(p.value for p in permissions)


class MembershipActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.database = resources.database

    @contracts.APPLY_MEMBERSHIP_CHANGE.implement
    async def apply_membership_change(
        self, input: contracts.ApplyMembershipChangeInput
    ) -> contracts.ApplyMembershipChangeOutput:
        context = step_context(input.idempotency_key, *FLOWS)
        actor_id = require_actor(context, input.actor_id)
        tenant_id = parse_id(input.tenant_id, "tenant id")
        try:
            kind = MembershipChangeKind(input.kind)
        except ValueError:
            raise business_error(TenantError.INVALID_INPUT, "unknown change") from None
        try:
            async with transaction(self.database, tenant_id) as db:
                outcomes = MembershipChangeOutcomeRepository(db, tenant_id)
                recorded = await outcomes.of_key(input.idempotency_key)
                if recorded is not None:
                    return _decode(recorded)  # applied by an earlier attempt
                tenant = await existing_tenant(db, tenant_id)
                if tenant.status != TenantStatus.ACTIVE.value:
                    raise business_error(
                        TenantError.TENANT_NOT_ACTIVE, f"the tenant is {tenant.status}"
                    )
                if kind == MembershipChangeKind.ACCEPT_INVITATION:
                    output = await self._accept(db, tenant_id, actor_id, input, tenant.seat_quota)
                else:
                    output = await self._change(db, context, tenant_id, actor_id, kind, input)
                output.tenant_name = tenant.name
                # Committed with the change or not at all: no window between the two.
                await outcomes.record(input.idempotency_key, asdict(output))
        except rules.RuleViolation as error:
            raise _violation(error) from error
        return output

    async def _accept(
        self,
        db: DbSession,
        tenant_id: uuid.UUID,
        actor_id: uuid.UUID,
        input: contracts.ApplyMembershipChangeInput,
        seat_quota: int,
    ) -> contracts.ApplyMembershipChangeOutput:
        invalid = business_error(TenantError.INVALID_INVITATION, "invalid or expired invitation")
        if not input.invitation_token_hash or not input.actor_email:
            raise invalid
        invitation = await invitation_by_token(db, input.invitation_token_hash)
        now = datetime.now(UTC)
        if (
            invitation is None
            or invitation.tenant_id != tenant_id
            or invitation.status != InvitationStatus.PENDING.value
            or invitation.expires_at <= now
            # The signed-in caller must be the invited address (the same answer: nothing leaks).
            or invitation.email.lower() != input.actor_email.lower()
        ):
            raise invalid
        members = MembershipRepository(db, tenant_id)
        if await members.of_user(actor_id) is not None:
            raise business_error(TenantError.ALREADY_A_MEMBER, "you are a member already")
        if await members.count_active() >= seat_quota:
            raise business_error(
                TenantError.SEAT_QUOTA_EXCEEDED, "the tenant has no free seat on its plan"
            )
        permissions = await permissions_of(db, tenant_id, invitation.role)
        if not is_built_in(invitation.role) and not permissions:
            raise business_error(TenantError.UNKNOWN_ROLE, "the invitation's role is gone")
        await members.add_member(actor_id, invitation.role)
        if not await InvitationRepository(db, tenant_id).close(
            invitation, InvitationStatus.ACCEPTED, now, accepted_by=actor_id
        ):
            raise invalid
        return contracts.ApplyMembershipChangeOutput(
            changes=[MemberClaims(str(actor_id), invitation.role, _sorted(permissions))],
            previous=[MemberState(str(actor_id), None)],
            invitation_id=str(invitation.id),
        )

    async def _change(
        self,
        db: DbSession,
        context: Any,
        tenant_id: uuid.UUID,
        actor_id: uuid.UUID,
        kind: MembershipChangeKind,
        input: contracts.ApplyMembershipChangeInput,
    ) -> contracts.ApplyMembershipChangeOutput:
        members = MembershipRepository(db, tenant_id)
        target_id = parse_id(input.user_id, "user id")
        needs = () if kind in (MembershipChangeKind.LEAVE,) else (Permission.MEMBERS_MANAGE,)
        if kind == MembershipChangeKind.TRANSFER_OWNERSHIP:
            needs = ()
        if kind == MembershipChangeKind.LEAVE and target_id != actor_id:
            raise business_error(TenantError.INVALID_INPUT, "one leaves only oneself")
        actor, actor_permissions = await actor_membership(db, context, tenant_id, actor_id, needs)
        if actor is not None and actor.status != MembershipStatus.ACTIVE.value:
            raise business_error(TenantError.TENANT_NOT_ACTIVE, "your membership is suspended")
        target = await members.of_user(target_id)
        if target is None:
            raise business_error(TenantError.MEMBER_NOT_FOUND, "no such member")
        target_permissions = await permissions_of(db, tenant_id, target.role)
        owners = await members.count(role=OWNER, status=MembershipStatus.ACTIVE.value)
        before = MemberState(
            str(target.user_id), target.role, target.status, _sorted(target_permissions)
        )
        actor_role = actor.role if actor is not None else OWNER

        if kind in (MembershipChangeKind.REMOVE, MembershipChangeKind.LEAVE):
            if kind == MembershipChangeKind.REMOVE and target_id != actor_id:
                # Nobody removes a member who holds permissions they lack (an admin an owner).
                rules.check_grant(actor_permissions, target_permissions)
            rules.check_removal(target.role, owners)
            await members.remove(target)
            return contracts.ApplyMembershipChangeOutput(
                changes=[MemberClaims(str(target_id), None, revoke_sessions=True)],
                previous=[before],
            )

        if kind == MembershipChangeKind.CHANGE_ROLE:
            role = input.role or ""
            new_permissions = await permissions_of(db, tenant_id, role)
            if not is_built_in(role) and not new_permissions:
                raise business_error(TenantError.UNKNOWN_ROLE, f"no role {role!r} here")
            rules.check_role_assignment(actor_role, role)
            rules.check_grant(actor_permissions, new_permissions)
            rules.check_grant(actor_permissions, target_permissions)
            rules.check_role_change(target.role, role, owners)
            await members.set_role(target, role)
            demoted = not target_permissions <= new_permissions
            return contracts.ApplyMembershipChangeOutput(
                changes=[MemberClaims(str(target_id), role, _sorted(new_permissions), demoted)],
                previous=[before],
            )

        # Transfer of ownership: the target becomes owner, the actor an admin.
        rules.check_owner_only(actor_role, "transfer ownership")
        if target_id == actor_id:
            raise business_error(TenantError.INVALID_INPUT, "you own the tenant already")
        if target.status != MembershipStatus.ACTIVE.value:
            raise business_error(TenantError.MEMBER_NOT_FOUND, "no such active member")
        owner_permissions = await permissions_of(db, tenant_id, OWNER)
        admin_permissions = await permissions_of(db, tenant_id, ADMIN)
        await members.set_role(target, OWNER)
        changes = [MemberClaims(str(target_id), OWNER, _sorted(owner_permissions))]
        previous = [before]
        if actor is not None:
            previous.append(
                MemberState(str(actor_id), actor.role, actor.status, _sorted(actor_permissions))
            )
            await members.set_role(actor, ADMIN)
            changes.append(MemberClaims(str(actor_id), ADMIN, _sorted(admin_permissions), True))
        return contracts.ApplyMembershipChangeOutput(changes=changes, previous=previous)

    @contracts.REVERT_MEMBERSHIP_CHANGE.implement
    async def revert_membership_change(
        self, input: contracts.RevertMembershipChangeInput
    ) -> contracts.RevertMembershipChangeOutput:
        step_context(input.idempotency_key, *FLOWS)
        tenant_id = parse_id(input.tenant_id, "tenant id")
        restored = 0
        async with transaction(self.database, tenant_id) as db:
            members = MembershipRepository(db, tenant_id)
            for state in input.previous:
                user_id = parse_id(state.user_id, "user id")
                row = await members.of_user(user_id)
                if state.role is None:
                    if row is not None:
                        await members.remove(row)
                        restored += 1
                elif row is None:
                    await members.add(
                        Membership(
                            user_id=user_id,
                            role=state.role,
                            status=state.status or MembershipStatus.ACTIVE.value,
                        )
                    )
                    restored += 1
                elif row.role != state.role:
                    await members.set_role(row, state.role)
                    restored += 1
            if input.invitation_id:
                invitations = InvitationRepository(db, tenant_id)
                invitation = await invitations.get(parse_id(input.invitation_id, "invitation"))
                if invitation is not None and invitation.status == InvitationStatus.ACCEPTED.value:
                    invitation.status = InvitationStatus.PENDING.value
                    invitation.accepted_by = None
                    invitation.responded_at = None
        return contracts.RevertMembershipChangeOutput(restored=restored)

    def all(self) -> list[Callable[..., Any]]:
        return [self.apply_membership_change, self.revert_membership_change]


def _decode(data: dict[str, Any]) -> contracts.ApplyMembershipChangeOutput:
    return contracts.ApplyMembershipChangeOutput(
        changes=[MemberClaims(**c) for c in data["changes"]],
        previous=[MemberState(**p) for p in data["previous"]],
        invitation_id=data.get("invitation_id"),
        tenant_name=data.get("tenant_name"),
    )
