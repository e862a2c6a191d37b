"""User capability: bulk operations (``bulk_user_operation``, docs/users.md "Bulk operations"):
the upload and report routes, the workflow, and the user service's own steps of it."""

from services.common.feature import Feature
from services.user.bulk.activities import BulkOperationActivities
from services.user.bulk.import_batch import BulkImportUserActivities
from services.user.bulk.routes import router
from workflows.accounts.bulk_user_operation import BulkUserOperationWorkflow

FEATURE = Feature(
    name="bulk",
    router=router,
    workflows=[BulkUserOperationWorkflow],
    activities=lambda resources: [
        *BulkOperationActivities(resources).all(),
        *BulkImportUserActivities(resources).all(),
    ],
)
