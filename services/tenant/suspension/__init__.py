"""Tenant capability: suspension, resumption and scheduled deletion through
``tenant_suspension`` (docs/tenancy.md)."""

from services.common.feature import Feature
from services.tenant.suspension.activities import SuspensionActivities
from services.tenant.suspension.routes import router
from workflows.tenant.tenant_suspension import TenantSuspensionWorkflow

FEATURE = Feature(
    name="suspension",
    router=router,
    workflows=[TenantSuspensionWorkflow],
    activities=lambda resources: SuspensionActivities(resources).all(),
)
