"""File capability: sharing (``file_sharing``: with a member, a role, the tenant, or by link;
the share routes and the public link routes; docs/files.md, "Sharing")."""

from services.common.feature import Feature
from services.file.sharing.activities import SharingActivities
from services.file.sharing.routes import router
from workflows.file.file_sharing import FileSharingWorkflow

FEATURE = Feature(
    name="sharing",
    router=router,
    workflows=[FileSharingWorkflow],
    activities=lambda resources: SharingActivities(resources).all(),
)
