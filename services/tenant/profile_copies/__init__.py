"""Tenant capability: the copy of profile data the member lists show (names and addresses on the
memberships; ``tenant.sync_member_profiles``, called by the user service's
``user_profile_sync``)."""

from services.common.feature import Feature
from services.tenant.profile_copies.activities import MemberProfileActivities

FEATURE = Feature(
    name="profile_copies",
    activities=lambda resources: MemberProfileActivities(resources).all(),
)
