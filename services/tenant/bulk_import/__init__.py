"""Tenant capability: the tenant's part of the batched bulk import (activities only; the
``bulk_user_operation`` workflow runs on the user service)."""

from services.common.feature import Feature
from services.tenant.bulk_import.activities import BulkImportMemberActivities

FEATURE = Feature(
    name="bulk_import",
    activities=lambda resources: BulkImportMemberActivities(resources).all(),
)
