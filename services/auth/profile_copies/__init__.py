"""Auth capability: the copy of profile data auth keeps, the display name of access tokens
(``auth.sync_profile_claims``, called by the user service's ``user_profile_sync``)."""

from services.auth.profile_copies.activities import ProfileClaimsActivities
from services.auth.runtime import with_runtime
from services.common.feature import Feature

FEATURE = Feature(
    name="profile_copies",
    activities=with_runtime(lambda runtime: ProfileClaimsActivities(runtime).all()),
)
