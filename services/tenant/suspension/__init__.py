"""Tenant capability: suspension, resumption and scheduled deletion through
``tenant_suspension`` (docs/tenancy.md)."""

from services.common.feature import Feature
from services.tenant.suspension.activities import SuspensionActivities
from workflows.tenant.tenant_suspension import TenantSuspensionWorkflow

FEATURE = Feature(
    name="suspension",
    workflows=[TenantSuspensionWorkflow],
    activities=lambda resources: SuspensionActivities(resources).all(),
)
