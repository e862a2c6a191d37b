"""The storage migration's root field (resolver in ``resolvers/file_migration.py``)."""

from __future__ import annotations

import strawberry

from resolvers.file_migration import resolve_migrate_tenant_storage
from schema.workflow_runs import WorkflowRun


@strawberry.type
class FileMigrationMutation:
    migrate_tenant_storage: WorkflowRun = strawberry.mutation(
        resolver=resolve_migrate_tenant_storage,
        description="Start file_migration for the active tenant (needs tenant.manage and "
        "files.write): its files moved to another blob store, checksummed, resumable; follow "
        "it with workflowProgress, the report is the run's result.",
    )
