"""``migrateTenantStorage``: a workflow mutation (``file_migration``, resolvers/routing.py) whose
run the file service's ``POST /storage/migrations`` starts after checking the caller holds
``tenant.manage`` and ``files.write`` in the active tenant (else ``FORBIDDEN``). The input is
checked here first by that route's own model, so a hostile one is a ``BAD_USER_INPUT`` that
never reaches the service."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from pydantic import ValidationError

from resolvers.workflow_runs import started_run
from schema.errors import refused_input
from schema.file_migration import MigrateTenantStorageInput
from schema.workflow_runs import WorkflowRun
from services.common.settings import ServiceName
from services.file.schemas import StorageMigrationRequest, StorageMigrationStarted

if TYPE_CHECKING:
    from gateway.context import GatewayContext

PATH = "/storage/migrations"


def _request(input: MigrateTenantStorageInput) -> StorageMigrationRequest:
    try:
        return StorageMigrationRequest.model_validate(
            {
                "target": input.target.value,
                "source": input.source.value if input.source is not None else None,
                "batch_size": input.batch_size,
            }
        )
    except ValidationError as error:
        raise refused_input(error, "storage migration input") from None


async def resolve_migrate_tenant_storage(
    info: strawberry.Info[GatewayContext], input: MigrateTenantStorageInput
) -> WorkflowRun:
    body = _request(input).model_dump(mode="json")

    return await started_run(
        info, ServiceName.file, "POST", PATH, body=body, response=StorageMigrationStarted
    )
