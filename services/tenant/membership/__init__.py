"""Tenant capability: membership changes through ``membership_change`` (accepting an invitation,
role changes, removal and leaving, transfer of ownership; docs/tenancy.md), and one user's
memberships suspended or restored by the user service's ``user_deactivation``."""

from services.common.feature import Feature
from services.tenant.membership.activities import MembershipActivities
from services.tenant.membership.routes import router
from services.tenant.membership.user_status import UserMembershipActivities
from workflows.tenant.membership_change import MembershipChangeWorkflow

FEATURE = Feature(
    name="membership",
    router=router,
    workflows=[MembershipChangeWorkflow],
    activities=lambda resources: [
        *MembershipActivities(resources).all(),
        *UserMembershipActivities(resources).all(),
    ],
)
