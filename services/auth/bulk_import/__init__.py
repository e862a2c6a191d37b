"""Auth capability: auth's part of the batched bulk import (activities only; the
``bulk_user_operation`` workflow runs on the user service)."""

from services.auth.bulk_import.activities import BulkImportAccountActivities
from services.auth.runtime import with_runtime
from services.common.feature import Feature

FEATURE = Feature(
    name="bulk_import",
    activities=with_runtime(lambda runtime: BulkImportAccountActivities(runtime).all()),
)
