"""Helpers of the ``data_migration`` tests: a provisioned tenant, members written consistently
into the owner's table and both copies, and the copies read back."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client, ScheduleActionExecutionStartWorkflow, WorkflowHandle

from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from storage.auth.claims import ClaimsRepository
from storage.auth.reconciliation import claims_between
from storage.db import transaction
from storage.tenants.repository import MembershipRepository
from storage.users.directory import DirectoryRepository
from storage.users.reconciliation import entries_between
from workflows.reconciliation.data_migration import DataMigrationResult
from workflows.tenant.permissions import built_in_permissions
from workflows.tenant.tenant_provisioning import (
    TenantProvisioningInput,
    TenantProvisioningWorkflow,
    tenant_provisioning_workflow_id,
)


@dataclass(frozen=True)
class Stack:
    tenant: str
    workflow: str
    auth: Resources
    tenants: Resources
    users: Resources


async def provisioned(temporal: Client, stack: Stack, owner: uuid.UUID) -> uuid.UUID:
    """A tenant owned by ``owner`` (who must have an account)."""
    slug = f"t-{uuid.uuid4().hex[:10]}"
    with acting_as(SecurityContext.for_user(str(owner))):
        handle = await temporal.start_workflow(
            TenantProvisioningWorkflow.run,
            TenantProvisioningInput(slug=slug, name=f"Tenant {slug}", owner_id=str(owner)),
            id=tenant_provisioning_workflow_id(slug),
            task_queue=stack.tenant,
        )
    return uuid.UUID(str((await handle.result()).tenant_id))


def permissions(role: str) -> list[str]:
    return sorted(p.value for p in built_in_permissions(role) or ())


async def add_member(stack: Stack, tenant_id: uuid.UUID, role: str = "member") -> uuid.UUID:
    """A member in the owner's table and in both copies, all in step."""
    user_id = uuid.uuid4()
    async with transaction(stack.tenants.database, tenant_id) as db:
        await MembershipRepository(db, tenant_id).add_member(user_id, role)
    await put_claims(stack, tenant_id, user_id, role)
    await put_entry(stack, tenant_id, user_id, role)
    return user_id


async def put_claims(stack: Stack, tenant_id: uuid.UUID, user_id: uuid.UUID, role: str) -> None:
    async with transaction(stack.auth.database) as db:
        await ClaimsRepository(db).put(user_id, tenant_id, [role], permissions(role))


async def put_entry(stack: Stack, tenant_id: uuid.UUID, user_id: uuid.UUID, role: str) -> None:
    async with transaction(stack.users.database, tenant_id) as db:
        await DirectoryRepository(db, tenant_id).upsert(
            user_id,
            role=role,
            status="active",
            joined_at=None,
            display_name="Member",
            email="member@example.com",
            search_name="Member",
        )


async def remove_membership(stack: Stack, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    async with transaction(stack.tenants.database, tenant_id) as db:
        members = MembershipRepository(db, tenant_id)
        membership = await members.of_user(user_id)
        assert membership is not None
        await members.remove(membership)


async def remove_entry(stack: Stack, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    async with transaction(stack.users.database, tenant_id) as db:
        await DirectoryRepository(db, tenant_id).remove(user_id)


async def copies(
    stack: Stack, tenant_id: uuid.UUID
) -> tuple[dict[uuid.UUID, tuple[list[str], list[str]]], dict[uuid.UUID, tuple[str, str]]]:
    """(auth's claims, the directory's entries) of the tenant."""
    async with transaction(stack.auth.database) as db:
        claims = await claims_between(db, tenant_id, None, None)
    async with transaction(stack.users.database, tenant_id) as db:
        entries = await entries_between(db, tenant_id, None, None)
    return claims, entries


async def triggered_run(temporal: Client, schedule_id: str) -> WorkflowHandle[Any, Any]:
    """The run a Schedule starts when triggered now."""
    handle = temporal.get_schedule_handle(schedule_id)
    await handle.trigger()
    for _ in range(300):
        recent = (await handle.describe()).info.recent_actions
        if recent:
            started = recent[0].action
            assert isinstance(started, ScheduleActionExecutionStartWorkflow)
            return temporal.get_workflow_handle(
                started.workflow_id,
                run_id=started.first_execution_run_id,
                result_type=DataMigrationResult,
            )
        await asyncio.sleep(0.1)
    raise AssertionError(f"{schedule_id} started nothing")
