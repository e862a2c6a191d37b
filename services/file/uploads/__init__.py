"""File capability: uploads (direct and tus) and the ``file_upload`` run that validates and
scans each one (docs/files.md)."""

from services.common.feature import Feature
from services.file.uploads import routes
from services.file.uploads.activities import UploadActivities
from services.file.uploads.tus import tus_router
from workflows.file.file_upload import FileUploadWorkflow

#: The tus endpoint first: ``/files/tus`` before the direct upload's ``/files``.
routes.router.include_router(tus_router())
router = routes.router

FEATURE = Feature(
    name="uploads",
    router=router,
    workflows=[FileUploadWorkflow],
    activities=lambda resources: UploadActivities(resources).all(),
)
