"""File capability: uploads (direct and tus) and the ``file_upload`` run that validates and
scans each one (docs/files.md)."""

from services.common.feature import Feature
from services.file.uploads.activities import UploadActivities
from services.file.uploads.routes import router
from workflows.file.file_upload import FileUploadWorkflow

FEATURE = Feature(
    name="uploads",
    router=router,
    workflows=[FileUploadWorkflow],
    activities=lambda resources: UploadActivities(resources).all(),
)
