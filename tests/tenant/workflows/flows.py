"""Starting the membership and suspension flows as a user, and a provisioned tenant to run them
on (tests/tenant/workflows)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle

from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.tenant.invitations.tokens import new_token
from storage.db import transaction
from storage.tenants.repository import InvitationRepository
from tests.tenant.workflows.stack import TenantStack, start_provisioning
from workflows.tenant.membership_change import (
    MembershipChangeInput,
    MembershipChangeWorkflow,
    membership_change_workflow_id,
)
from workflows.tenant.tenant_suspension import (
    TenantSuspensionInput,
    TenantSuspensionWorkflow,
    tenant_deletion_workflow_id,
    tenant_suspension_workflow_id,
)


async def provisioned(temporal: Client, stack: TenantStack, owner_id: uuid.UUID) -> str:
    handle = await start_provisioning(temporal, stack, owner_id, f"t-{uuid.uuid4().hex[:10]}")
    return str((await handle.result()).tenant_id)


async def invite(
    resources: Resources, tenant_id: str, inviter: uuid.UUID, email: str, role: str = "member"
) -> str:
    """A pending invitation; the token's digest (what the accept route passes on)."""
    token = new_token(uuid.UUID(tenant_id))
    async with transaction(resources.database, uuid.UUID(tenant_id)) as db:
        await InvitationRepository(db, uuid.UUID(tenant_id)).create(
            email=email,
            role=role,
            inviter_id=inviter,
            token_hash=token.digest,
            expires_at=datetime.now(UTC) + timedelta(days=1),
        )
    return token.digest


async def change(
    temporal: Client,
    stack: TenantStack,
    actor: uuid.UUID,
    tenant_id: str,
    kind: str,
    *,
    user_id: uuid.UUID | None = None,
    role: str | None = None,
    token_hash: str | None = None,
) -> WorkflowHandle[Any, Any]:
    member = str(user_id or actor)
    with acting_as(SecurityContext.for_user(str(actor))):
        return await temporal.start_workflow(
            MembershipChangeWorkflow.run,
            MembershipChangeInput(
                tenant_id=tenant_id,
                kind=kind,
                actor_id=str(actor),
                user_id=str(user_id) if user_id else None,
                role=role,
                invitation_token_hash=token_hash,
            ),
            id=membership_change_workflow_id(kind, tenant_id, member) + uuid.uuid4().hex[:6],
            task_queue=stack.queue,
        )


async def suspension(
    temporal: Client,
    stack: TenantStack,
    actor: uuid.UUID,
    tenant_id: str,
    action: str,
    grace_seconds: float = 2.0,
) -> WorkflowHandle[Any, Any]:
    workflow_id = (
        tenant_deletion_workflow_id(tenant_id)
        if action == "delete"
        else tenant_suspension_workflow_id(tenant_id) + f"-{action}"
    )
    with acting_as(SecurityContext.for_user(str(actor))):
        return await temporal.start_workflow(
            TenantSuspensionWorkflow.run,
            TenantSuspensionInput(tenant_id, action, str(actor), grace_seconds),
            id=workflow_id,
            task_queue=stack.queue,
        )
