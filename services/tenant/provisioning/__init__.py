"""Tenant capability: creating a tenant (``POST /tenants`` starts ``tenant_provisioning``) and the
tenant mail the tenant flows share (docs/tenancy.md)."""

from services.common.feature import Feature
from services.tenant.provisioning.activities import ProvisioningActivities
from services.tenant.provisioning.routes import router
from workflows.tenant.tenant_provisioning import TenantProvisioningWorkflow

FEATURE = Feature(
    name="provisioning",
    router=router,
    workflows=[TenantProvisioningWorkflow],
    activities=lambda resources: ProvisioningActivities(resources).all(),
)
