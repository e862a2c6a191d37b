"""Tenant capability: billing (docs/billing.md): the provider interface (``provider.py``), its
Stripe and local implementations, the plan-change route (``upgrades.py``), the
``tenant_upgrade`` workflow's activities and the Stripe webhook route."""

from fastapi import APIRouter

from services.common.feature import Feature
from services.tenant.billing import routes, upgrades
from services.tenant.billing.activities import UpgradeActivities
from workflows.tenant.tenant_upgrade import TenantUpgradeWorkflow

router = APIRouter()
router.include_router(upgrades.router)
router.include_router(routes.router)

FEATURE = Feature(
    name="billing",
    router=router,
    workflows=[TenantUpgradeWorkflow],
    activities=lambda resources: UpgradeActivities(resources).all(),
)
