"""``POST /storage/migrations``: start ``file_migration`` for the caller's tenant, 202 with the
run id (follow it with ``workflowProgress``). The caller needs ``tenant.manage`` and
``files.write`` in the active tenant (owners and admins); the run acts on that tenant only, as
its activities check. One migration per tenant at a time (409 while one runs)."""

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
from services.file.errors import file_error
from services.file.schemas import StorageMigrationRequest, StorageMigrationStarted
from storage.blobs import BlobStoreError
from workflows.file.contracts import FileError
from workflows.file.file_migration import (
    FileMigrationInput,
    FileMigrationWorkflow,
    file_migration_workflow_id,
)
from workflows.tenant.permissions import Permission

router = APIRouter(prefix="/storage", tags=["storage migration"])
REFUSED: dict[int | str, dict[str, Any]] = {
    403: problem_response(403, "No active tenant, or no tenant.manage and files.write"),
    409: problem_response(409, "A migration of this tenant's files is running"),
    422: problem_response(422, "An unknown store, or the same store twice"),
}


@router.post("/migrations", status_code=202, responses=REFUSED)
async def start_storage_migration(
    body: StorageMigrationRequest, principal: PrincipalDep, resources: ResourcesDep
) -> StorageMigrationStarted:
    tenant_id = require(principal, Permission.TENANT_MANAGE)
    require(principal, Permission.FILES_WRITE)
    source = body.source or resources.settings.blob_backend
    if source == body.target:
        raise file_error(FileError.INVALID_INPUT, f"the files are in {source} already")
    for name in (source, body.target):
        try:
            resources.blob_store(name)
        except BlobStoreError:
            raise file_error(
                FileError.INVALID_INPUT, f"this file service has no {name} store"
            ) from None
    workflow_id = file_migration_workflow_id(str(tenant_id))
    with acting_as(SecurityContext.for_principal(principal)):
        await workflow_calls.start(
            resources.temporal,
            FileMigrationWorkflow.run,
            FileMigrationInput(str(tenant_id), source, body.target, batch_size=body.batch_size),
            id=workflow_id,
            task_queue=resources.settings.task_queue(ServiceName.file),
            errors=workflow_calls.WorkflowErrors(
                call="file_migration",
                already_started=lambda: ConflictError(
                    "a migration of this tenant's files is running"
                ),
            ),
        )
    return StorageMigrationStarted(workflow_id=workflow_id)
