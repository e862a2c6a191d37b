"""``POST /storage/purges``: start ``file_purge`` for the caller's tenant, 202 with the run id
(follow it with ``workflowProgress``). Like ``POST /storage/migrations`` the caller needs
``tenant.manage`` and ``files.write`` in the active tenant (owners and admins); the run acts on
that tenant only, as its activities check. One purge per tenant at a time (409 while one runs,
the Schedule's too)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.common import workflow_calls
from services.common.app import ResourcesDep
from services.common.errors import ConflictError
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName
from services.file.access import require
from services.file.purge.schemas import FilePurgeRequest, FilePurgeStarted
from workflows.file.file_purge import FilePurgeInput, FilePurgeWorkflow, file_purge_workflow_id
from workflows.tenant.permissions import Permission

router = APIRouter(prefix="/storage", tags=["file purge"])
REFUSED: dict[int | str, dict[str, Any]] = {
    403: problem_response(403, "No active tenant, or no tenant.manage and files.write"),
    409: problem_response(409, "A purge of this tenant's files is running"),
    422: problem_response(422, "An invalid retention or batch size"),
}


@router.post("/purges", status_code=202, responses=REFUSED)
async def start_file_purge(
    body: FilePurgeRequest, principal: PrincipalDep, resources: ResourcesDep
) -> FilePurgeStarted:
    tenant_id = require(principal, Permission.TENANT_MANAGE)
    require(principal, Permission.FILES_WRITE)
    retention = body.retention_seconds
    if retention is None:
        retention = resources.settings.file_purge_retention_seconds
    workflow_id = file_purge_workflow_id(str(tenant_id))
    with acting_as(SecurityContext.for_principal(principal)):
        await workflow_calls.start(
            resources.temporal,
            FilePurgeWorkflow.run,
            FilePurgeInput(str(tenant_id), retention, batch_size=body.batch_size),
            id=workflow_id,
            task_queue=resources.settings.task_queue(ServiceName.file),
            errors=workflow_calls.WorkflowErrors(
                call="file_purge",
                already_started=lambda: ConflictError("a purge of this tenant's files is running"),
            ),
        )
    return FilePurgeStarted(workflow_id=workflow_id, retention_seconds=retention)
