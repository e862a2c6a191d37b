"""File capability: processing (``file_processing``: thumbnails and metadata of ready files) and
the routes that serve them (docs/files.md#processing)."""

from services.common.feature import Feature
from services.file.processing.activities import ProcessingActivities
from services.file.processing.routes import router
from workflows.file.file_processing import FileProcessingWorkflow

FEATURE = Feature(
    name="processing",
    router=router,
    workflows=[FileProcessingWorkflow],
    activities=lambda resources: ProcessingActivities(resources).all(),
)
