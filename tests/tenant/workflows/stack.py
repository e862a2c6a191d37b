"""Helpers of the tenant workflow tests: the in-process stack (``tenant_stack`` fixture in
tests/tenant/conftest.py), starting the flows as a user, and reading what each schema holds
about a tenant (to prove nothing is left behind)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError

from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from storage.auth.claims import ClaimsRepository
from storage.db import transaction
from storage.files.tenant_storage import tenant_files
from storage.tenants.lifecycle import memberships, role_permissions, tenant_row
from workflows.file.tenant_storage_contracts import PREFIX_MARKER
from workflows.tenant.provisioning_contracts import CREATE_TENANT, storage_prefix
from workflows.tenant.tenant_provisioning import (
    TenantProvisioningInput,
    TenantProvisioningWorkflow,
    tenant_provisioning_workflow_id,
)


@dataclass(frozen=True)
class TenantStack:
    prefix: str
    #: ``<prefix>-tenant``: where the tenant workflows are started.
    queue: str


def failing(contract: Any, message: str = "injected failure") -> Any:
    """A stand-in for ``contract``'s activity that always fails (non-retryable)."""

    async def fail(input: Any) -> Any:
        raise ApplicationError(message, type="InjectedFailure", non_retryable=True)

    fail.__annotations__ = {"input": contract.input_type, "return": contract.output_type}
    return contract.implement(fail)


async def start_provisioning(
    temporal: Client, stack: TenantStack, owner_id: uuid.UUID, slug: str, plan: str = "free"
) -> WorkflowHandle[Any, Any]:
    with acting_as(SecurityContext.for_user(str(owner_id))):
        return await temporal.start_workflow(
            TenantProvisioningWorkflow.run,
            TenantProvisioningInput(
                slug=slug, name=f"Tenant {slug}", owner_id=str(owner_id), plan=plan
            ),
            id=tenant_provisioning_workflow_id(slug),
            task_queue=stack.queue,
        )


async def scheduled_tenant_id(temporal: Client, handle: WorkflowHandle[Any, Any]) -> str | None:
    """The tenant id the run chose (the input of its ``tenant.create_tenant`` step)."""
    history = await handle.fetch_history()
    for event in history.events:
        attributes = event.activity_task_scheduled_event_attributes
        if attributes.activity_type.name == CREATE_TENANT.name:
            (data,) = await temporal.data_converter.decode(list(attributes.input.payloads))
            return str(data["tenant_id"])
    return None


@dataclass
class TenantTraces:
    tenant: Any
    members: list[Any]
    roles: dict[str, list[str]]
    claims: dict[str, list[str] | None]
    marker: bool
    files: int

    @property
    def empty(self) -> bool:
        return (
            self.tenant is None
            and not self.members
            and not self.roles
            and all(v is None for v in self.claims.values())
            and not self.marker
            and not self.files
        )


async def traces(
    tenant_id: str,
    users: list[uuid.UUID],
    *,
    tenant_resources: Resources,
    auth_resources: Resources,
    file_resources: Resources,
) -> TenantTraces:
    """What every schema (and the blob store) holds about ``tenant_id``."""
    tid = uuid.UUID(tenant_id)
    async with transaction(tenant_resources.database, tid) as db:
        tenant = await tenant_row(db, tid)
        members = await memberships(db, tid)
        roles = await role_permissions(db, tid)
    async with transaction(auth_resources.database) as db:
        claims = {str(u): await ClaimsRepository(db).roles(u, tid) for u in users}
    async with transaction(file_resources.database, tid) as db:
        files = len(await tenant_files(db, tid))
    marker = await file_resources.blobs.exists(storage_prefix(tenant_id) + PREFIX_MARKER)
    return TenantTraces(tenant, members, roles, claims, marker, files)
