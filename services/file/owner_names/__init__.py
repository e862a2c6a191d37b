"""File capability: owner names on files, kept in step with profiles (``file.sync_owner_name``,
called by the user service's ``user_profile_sync``; a no-op while files keep no owner name)."""

from services.common.feature import Feature
from services.file.owner_names.activities import OwnerNameActivities

FEATURE = Feature(
    name="owner_names",
    activities=lambda resources: OwnerNameActivities(resources).all(),
)
