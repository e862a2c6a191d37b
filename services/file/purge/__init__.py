"""File capability: the purge of soft-deleted files (``file_purge``; docs/files.md, "Purge of
soft-deleted files"): the route that starts it, its activities, and its nightly Schedule."""

from services.common.feature import Feature
from services.file.purge.activities import PurgeActivities
from services.file.purge.routes import router
from workflows.file.file_purge import FilePurgeWorkflow

FEATURE = Feature(
    name="purge",
    router=router,
    workflows=[FilePurgeWorkflow],
    activities=lambda resources: PurgeActivities(resources).all(),
)
