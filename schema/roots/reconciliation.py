"""The reconciliation domain's root fields (resolvers in ``resolvers/reconciliation.py``)."""

from __future__ import annotations

import strawberry

from resolvers.reconciliation import resolve_start_data_migration
from schema.workflow_runs import WorkflowRun


@strawberry.type
class ReconciliationMutation:
    start_data_migration: WorkflowRun = strawberry.mutation(
        resolver=resolve_start_data_migration,
        description="Start data_migration over one tenant (operators only): compare, and with "
        "mode REPAIR rewrite, the copies of its memberships; the report is the run's result.",
    )
