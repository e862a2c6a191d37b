"""``POST /reconciliation/runs``: an operator starts ``data_migration`` over one tenant, or
over every tenant (``all_tenants``) (docs/workflows.md, "Data reconciliation"). Operators only (``ADX_WORKFLOW_OPERATOR_USER_IDS``):
the run reads every member of the tenant and may rewrite other services' copies. Its progress
and report are read like any run's (``GET /runs/{workflow_id}``); the start is audited."""

from __future__ import annotations

from fastapi import APIRouter

from services.common.app import ResourcesDep
from services.common.data_migration import start_data_migration
from services.common.errors import ForbiddenError
from services.common.principal import PrincipalDep
from services.common.settings import ServiceName
from services.workflow.runs import audit
from services.workflow.runs.scope import Scope
from services.workflow.schemas import ReconciliationRequest, ReconciliationStarted
from workflows.reconciliation.data_migration import DataMigrationInput

router = APIRouter(prefix="/reconciliation", tags=["reconciliation"])


@router.post("/runs", status_code=202)
async def start_run(
    body: ReconciliationRequest, principal: PrincipalDep, resources: ResourcesDep
) -> ReconciliationStarted:
    if not Scope.of(principal, resources.settings).operator:
        raise ForbiddenError("only operators start data reconciliation")
    handle = await start_data_migration(
        resources.temporal,
        DataMigrationInput(
            tenant_id=str(body.tenant_id) if body.tenant_id else "",
            all_tenants=body.all_tenants,
            mode=body.mode.value,
            copies=[c.value for c in body.copies],
            batch_size=body.batch_size,
            requested_by=principal.user_id,
        ),
        task_queue=resources.settings.task_queue(ServiceName.workflow),
    )
    await audit.record(
        resources,
        principal,
        "reconcile",
        workflow_id=handle.id,
        run_id=handle.result_run_id or "",
        reason=body.mode.value,
    )
    return ReconciliationStarted(workflow_id=handle.id, run_id=handle.result_run_id or "")
