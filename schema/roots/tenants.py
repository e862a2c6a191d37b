"""The tenant domain's root fields: tenants, members, invitations, switching (resolvers in
``resolvers/tenants.py``, which states which are direct and which start workflows)."""

from __future__ import annotations

import strawberry

from resolvers.tenants import (
    resolve_accept_invitation,
    resolve_change_member_role,
    resolve_create_tenant,
    resolve_decline_invitation,
    resolve_delete_tenant,
    resolve_invitations,
    resolve_invite_member,
    resolve_members,
    resolve_remove_member,
    resolve_resume_tenant,
    resolve_revoke_invitation,
    resolve_suspend_tenant,
    resolve_switch_tenant,
    resolve_tenant,
    resolve_tenants,
    resolve_transfer_ownership,
    resolve_upgrade_tenant,
)
from schema.tenants import Invitation, MemberConnection, Tenant, TenantSwitch
from schema.workflow_runs import WorkflowRun


@strawberry.type
class TenantQuery:
    tenants: list[Tenant] = strawberry.field(
        resolver=resolve_tenants, description="The tenants the caller belongs to."
    )
    tenant: Tenant = strawberry.field(
        resolver=resolve_tenant, description="A tenant of the caller's (their active tenant)."
    )
    members: MemberConnection = strawberry.field(
        resolver=resolve_members, description="The members of a tenant (needs users.read)."
    )
    invitations: list[Invitation] = strawberry.field(
        resolver=resolve_invitations, description="A tenant's invitations (needs members.invite)."
    )


@strawberry.type
class TenantMutation:
    create_tenant: WorkflowRun = strawberry.mutation(
        resolver=resolve_create_tenant, description="Create a tenant (tenant_provisioning)."
    )
    invite_member: Invitation = strawberry.mutation(
        resolver=resolve_invite_member, description="Invite someone by e-mail (mails a link)."
    )
    accept_invitation: WorkflowRun = strawberry.mutation(
        resolver=resolve_accept_invitation, description="Join a tenant with an invitation token."
    )
    decline_invitation: bool = strawberry.mutation(
        resolver=resolve_decline_invitation, description="Decline an invitation by its token."
    )
    revoke_invitation: bool = strawberry.mutation(
        resolver=resolve_revoke_invitation, description="Withdraw a pending invitation."
    )
    change_member_role: WorkflowRun = strawberry.mutation(
        resolver=resolve_change_member_role, description="Give a member another role."
    )
    remove_member: WorkflowRun = strawberry.mutation(
        resolver=resolve_remove_member, description="Remove a member (ends their sessions there)."
    )
    transfer_ownership: WorkflowRun = strawberry.mutation(
        resolver=resolve_transfer_ownership, description="Make another member the owner."
    )
    switch_tenant: TenantSwitch = strawberry.mutation(
        resolver=resolve_switch_tenant,
        description="Move this session into another of your tenants; answers the new token.",
    )
    upgrade_tenant: WorkflowRun = strawberry.mutation(
        resolver=resolve_upgrade_tenant, description="Change the tenant's plan (tenant_upgrade)."
    )
    suspend_tenant: WorkflowRun = strawberry.mutation(
        resolver=resolve_suspend_tenant, description="Suspend the tenant (data preserved)."
    )
    resume_tenant: WorkflowRun = strawberry.mutation(
        resolver=resolve_resume_tenant, description="Resume a suspended tenant."
    )
    delete_tenant: WorkflowRun = strawberry.mutation(
        resolver=resolve_delete_tenant, description="Schedule the tenant's deletion."
    )
