"""GraphQL types of the GDPR procedures (``requestDataExport``, ``requestAccountErasure``,
``cancelAccountErasure``, ``decideAccountErasureTenants``): built from the workflow service's
models (``services/workflow/schemas.py``) so the two shapes cannot drift."""

from __future__ import annotations

from enum import Enum

import strawberry

from services.workflow.schemas import ErasureTenantAction as _Action


@strawberry.enum(description="What becomes of a tenant the person alone owns.")
class ErasureTenantAction(Enum):
    #: Another member becomes its owner.
    TRANSFER = _Action.TRANSFER.value
    #: The tenant is deleted (the tenant service's deletion) once the grace period is over.
    DELETE = _Action.DELETE.value


@strawberry.input(
    description="A tenant the person alone owns: TRANSFER it to a member (newOwnerId), or "
    "DELETE it (no newOwnerId) when the erasure's grace period is over."
)
class ErasureTenantDecision:
    tenant_id: strawberry.ID
    new_owner_id: strawberry.ID | None = None
    action: ErasureTenantAction = ErasureTenantAction.TRANSFER


@strawberry.type(description="What a running erasure still waits for after a decision.")
class ErasureDecisionResult:
    waiting: list[strawberry.ID]
    refused: list[strawberry.ID]


@strawberry.type(description="A cancelled erasure (before its point of no return).")
class ErasureCancellation:
    cancelled: bool
