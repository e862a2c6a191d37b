"""File capability: the copy holder's side of ``data_migration`` for the storage quota the file
service keeps of the tenant's plan (``file.reconcile_quota``); repairs go through
``file.put_storage_policy``, the write the tenant flows use."""

from services.common.feature import Feature
from services.file.reconciliation.activities import QuotaReconciliationActivities

FEATURE = Feature(
    name="reconciliation",
    activities=lambda resources: QuotaReconciliationActivities(resources).all(),
)
