"""Tenant capability: membership changes through ``membership_change`` (accepting an invitation,
role changes, removal and leaving, transfer of ownership; docs/tenancy.md)."""

from services.common.feature import Feature
from services.tenant.membership.activities import MembershipActivities
from services.tenant.membership.routes import router
from workflows.tenant.membership_change import MembershipChangeWorkflow

FEATURE = Feature(
    name="membership",
    router=router,
    workflows=[MembershipChangeWorkflow],
    activities=lambda resources: MembershipActivities(resources).all(),
)
