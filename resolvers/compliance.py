"""The GDPR mutations: ``requestDataExport`` and ``requestAccountErasure`` are workflow
mutations (``gdpr_export``, ``gdpr_erasure``; resolvers/routing.py) whose runs the workflow
service's ``/compliance`` routes start for the caller themself; ``cancelAccountErasure`` and
``decideAccountErasureTenants`` are direct calls (the workflow service signals or updates the
run it drives). Nobody can name another person: every call acts for the caller's own token."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from pydantic import ValidationError

from resolvers.workflow_runs import started_run
from schema.compliance import ErasureCancellation, ErasureDecisionResult, ErasureTenantDecision
from schema.errors import BAD_USER_INPUT, UserFacingError
from schema.workflow_runs import WorkflowRun
from services.common.settings import ServiceName
from services.workflow.schemas import (
    ComplianceStarted,
    ErasureCancel,
    ErasureCancelled,
    ErasureDecided,
    ErasureDecisions,
)

if TYPE_CHECKING:
    from gateway.context import GatewayContext

EXPORTS = "/compliance/exports"
ERASURES = "/compliance/erasures"


async def _started(info: strawberry.Info[GatewayContext], path: str, body: dict) -> WorkflowRun:  # type: ignore[type-arg]
    return await started_run(
        info, ServiceName.workflow, "POST", path, body=body, response=ComplianceStarted
    )


async def resolve_request_data_export(info: strawberry.Info[GatewayContext]) -> WorkflowRun:
    return await _started(info, EXPORTS, {})


async def resolve_request_account_erasure(
    info: strawberry.Info[GatewayContext], confirm: bool
) -> WorkflowRun:
    if confirm is not True:
        raise UserFacingError("an erasure must be confirmed", BAD_USER_INPUT)
    return await _started(info, ERASURES, {"confirm": True})


async def resolve_cancel_account_erasure(
    info: strawberry.Info[GatewayContext], reason: str = ""
) -> ErasureCancellation:
    try:
        body = ErasureCancel(reason=reason).model_dump(mode="json")
    except ValidationError:
        raise UserFacingError("invalid reason", BAD_USER_INPUT) from None
    answer = await info.context.service(ServiceName.workflow, signed_in=True).call(
        "POST", f"{ERASURES}/cancel", json=body, response=ErasureCancelled
    )
    return ErasureCancellation(cancelled=answer.cancelled)


async def resolve_decide_account_erasure_tenants(
    info: strawberry.Info[GatewayContext], decisions: list[ErasureTenantDecision]
) -> ErasureDecisionResult:
    try:
        body = ErasureDecisions.model_validate(
            {
                "decisions": [
                    {
                        "tenant_id": str(d.tenant_id),
                        "action": d.action.value,
                        "new_owner_id": None if d.new_owner_id is None else str(d.new_owner_id),
                    }
                    for d in decisions
                ]
            }
        ).model_dump(mode="json")
    except ValidationError:
        raise UserFacingError("invalid decisions", BAD_USER_INPUT) from None
    answer = await info.context.service(ServiceName.workflow, signed_in=True).call(
        "POST", f"{ERASURES}/decisions", json=body, response=ErasureDecided
    )
    return ErasureDecisionResult(
        waiting=[strawberry.ID(t) for t in answer.waiting],
        refused=[strawberry.ID(t) for t in answer.refused],
    )
