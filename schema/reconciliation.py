"""GraphQL types of data reconciliation (``startDataMigration``): the input of an operator's
``data_migration`` run, checked by the workflow service's own ``ReconciliationRequest``
(``services/workflow/schemas.py``) so the two shapes cannot drift."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="A dry run only reports drift; a repair also rewrites the copies.")
class DataMigrationMode(Enum):
    DRY_RUN = "dry_run"
    REPAIR = "repair"


@strawberry.input(
    description="An operator's data_migration run over one tenant, or over every tenant "
    "(allTenants: true, no tenantId) (docs/workflows.md, Data "
    "reconciliation): the copies by name (claims, directory, quotas, profile_names; none: all "
    "of them), batchSize "
    "1-1000 members a batch."
)
class StartDataMigrationInput:
    tenant_id: strawberry.ID | None = None
    all_tenants: bool = False
    mode: DataMigrationMode = DataMigrationMode.DRY_RUN
    copies: list[str] | None = None
    batch_size: int = 100
