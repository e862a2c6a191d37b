"""Tenant capability: the bookkeeping of a tenant switch (``tenant_switching``); the switch itself
is the auth service's ``POST /auth/switch-tenant``."""

from services.common.feature import Feature
from services.tenant.switching.activities import SwitchingActivities
from workflows.tenant.tenant_switching import TenantSwitchingWorkflow

FEATURE = Feature(
    name="switching",
    workflows=[TenantSwitchingWorkflow],
    activities=lambda resources: SwitchingActivities(resources).all(),
)
