"""``startDataMigration``: a workflow mutation (``data_migration``, resolvers/routing.py) whose
run the workflow service's ``POST /reconciliation/runs`` starts after checking the caller is an
operator (a tenant admin or anyone else: ``FORBIDDEN``). The input is checked here first by that
route's own model, so a hostile one is a ``BAD_USER_INPUT`` that never reaches the service."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from pydantic import ValidationError

from resolvers.workflow_runs import started_run
from schema.errors import refused_input
from schema.reconciliation import StartDataMigrationInput
from schema.workflow_runs import WorkflowRun
from services.common.settings import ServiceName
from services.workflow.schemas import ReconciliationRequest, ReconciliationStarted

if TYPE_CHECKING:
    from gateway.context import GatewayContext

PATH = "/reconciliation/runs"


def _request(input: StartDataMigrationInput) -> ReconciliationRequest:
    try:
        return ReconciliationRequest.model_validate(
            {
                "tenant_id": None if input.tenant_id is None else str(input.tenant_id),
                "all_tenants": input.all_tenants,
                "mode": input.mode.value,
                "copies": input.copies or [],
                "batch_size": input.batch_size,
            }
        )
    except ValidationError as error:
        raise refused_input(error, "data migration input") from None


async def resolve_start_data_migration(
    info: strawberry.Info[GatewayContext], input: StartDataMigrationInput
) -> WorkflowRun:
    body = _request(input).model_dump(mode="json")

    return await started_run(
        info, ServiceName.workflow, "POST", PATH, body=body, response=ReconciliationStarted
    )
