"""GraphQL types of the GDPR procedures (``requestDataExport``, ``requestAccountErasure``,
``cancelAccountErasure``, ``decideAccountErasureTenants``): built from the workflow service's
models (``services/workflow/schemas.py``) so the two shapes cannot drift."""

from __future__ import annotations

import strawberry


@strawberry.input(description="A new owner for a tenant the person alone owns.")
class ErasureTenantDecision:
    tenant_id: strawberry.ID
    new_owner_id: strawberry.ID


@strawberry.type(description="What a running erasure still waits for after a decision.")
class ErasureDecisionResult:
    waiting: list[strawberry.ID]
    refused: list[strawberry.ID]


@strawberry.type(description="A cancelled erasure (before its point of no return).")
class ErasureCancellation:
    cancelled: bool
