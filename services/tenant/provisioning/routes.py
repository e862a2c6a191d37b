"""Creating a tenant over HTTP: ``POST /tenants`` starts ``tenant_provisioning`` (it spans the
tenant, auth and file services and compensates) and answers 202 with the run's id; the gateway
returns it as a ``WorkflowRun`` to follow with ``workflowProgress``."""

from __future__ import annotations

from fastapi import APIRouter

from services.common.app import ResourcesDep
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.tenant.schemas import CreateTenantRequest, WorkflowStarted
from services.tenant.starts import start
from workflows.tenant.tenant_provisioning import (
    TenantProvisioningInput,
    TenantProvisioningWorkflow,
    tenant_provisioning_workflow_id,
)

router = APIRouter(tags=["tenants"])


@router.post(
    "/tenants",
    status_code=202,
    responses={
        409: problem_response(409, "A tenant with this slug is being created"),
        422: problem_response(422, "Invalid slug, name or plan"),
    },
)
async def create_tenant(
    body: CreateTenantRequest, principal: PrincipalDep, resources: ResourcesDep
) -> WorkflowStarted:
    """Any signed-in user (a login needs a verified address) creates a tenant they own. The
    run's id is ``tenant-provisioning-<slug>``: a double submit is refused while it runs, and a
    slug taken by another tenant fails the run (``SlugTaken``)."""
    return await start(
        resources,
        principal,
        TenantProvisioningWorkflow.run,
        TenantProvisioningInput(
            slug=body.slug, name=body.name, owner_id=principal.user_id, plan=body.plan
        ),
        workflow_id=tenant_provisioning_workflow_id(body.slug),
        busy="a tenant with this slug is being created",
    )
