"""User capability: the copy holder's side of ``data_migration`` for the directory's copy of
memberships (``user.reconcile_directory``); repairs go through ``user.sync_directory``."""

from services.common.feature import Feature
from services.user.reconciliation.activities import DirectoryReconciliationActivities

FEATURE = Feature(
    name="reconciliation",
    activities=lambda resources: DirectoryReconciliationActivities(resources).all(),
)
