"""Auth capability: the copy holder's side of ``data_migration`` for the membership claims in
access tokens (``auth.reconcile_claims``); repairs go through ``auth.sync_principal_claims``."""

from services.auth.reconciliation.activities import ClaimsReconciliationActivities
from services.auth.runtime import with_runtime
from services.common.feature import Feature

FEATURE = Feature(
    name="reconciliation",
    activities=with_runtime(lambda runtime: ClaimsReconciliationActivities(runtime).all()),
)
