"""Tenant capability: the owner's side of ``data_migration`` (workflows/reconciliation/): a
tenant's memberships read in keyset batches (``tenant.reconcile_read_members``)."""

from services.common.feature import Feature
from services.tenant.reconciliation.activities import MemberTruthActivities

FEATURE = Feature(
    name="reconciliation",
    activities=lambda resources: MemberTruthActivities(resources).all(),
)
