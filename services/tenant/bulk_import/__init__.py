"""Tenant capability: the tenant's part of the batched bulk import and of bulk ``invite``
(activities only; the ``bulk_user_operation`` workflow runs on the user service)."""

from services.common.feature import Feature
from services.tenant.bulk_import.activities import BulkImportMemberActivities
from services.tenant.bulk_import.invites import BulkInviteActivities

FEATURE = Feature(
    name="bulk_import",
    activities=lambda resources: [
        *BulkImportMemberActivities(resources).all(),
        *BulkInviteActivities(resources).all(),
    ],
)
