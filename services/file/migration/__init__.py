"""File capability: moving a tenant's blobs to another store (``file_migration``; docs/files.md,
"Moving a tenant's blobs"): the route that starts it and its activities."""

from services.common.feature import Feature
from services.file.migration.activities import MigrationActivities
from services.file.migration.routes import router
from workflows.file.file_migration import FileMigrationWorkflow

FEATURE = Feature(
    name="migration",
    router=router,
    workflows=[FileMigrationWorkflow],
    activities=lambda resources: MigrationActivities(resources).all(),
)
