"""Tenant capability: billing (docs/billing.md): the provider interface (``provider.py``), its
Stripe and local implementations, the ``tenant_upgrade`` workflow's activities and the Stripe
webhook route."""

from services.common.feature import Feature
from services.tenant.billing.activities import UpgradeActivities
from services.tenant.billing.routes import router
from workflows.tenant.tenant_upgrade import TenantUpgradeWorkflow

FEATURE = Feature(
    name="billing",
    router=router,
    workflows=[TenantUpgradeWorkflow],
    activities=lambda resources: UpgradeActivities(resources).all(),
)
