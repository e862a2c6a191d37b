"""File capability: uploads (direct and tus) and the ``file_upload`` run that validates and
scans each one (docs/files.md)."""

from fastapi import APIRouter

from services.common.feature import Feature
from services.file.uploads import plans, routes
from services.file.uploads.activities import UploadActivities
from services.file.uploads.tus import tus_router
from workflows.file.file_upload import FileUploadWorkflow

#: The direct upload (``POST /files``), where to upload (``POST /uploads``) and the tus
#: endpoint (``/uploads/tus``).
router = APIRouter()
router.include_router(routes.router)
router.include_router(plans.router)
router.include_router(tus_router())

FEATURE = Feature(
    name="uploads",
    router=router,
    workflows=[FileUploadWorkflow],
    activities=lambda resources: UploadActivities(resources).all(),
)
