"""File capability: a deactivated user's files kept or transferred, and moved back on
reactivation (``file.transfer_user_files``, called by the user service's ``user_deactivation``)."""

from services.common.feature import Feature
from services.file.user_files.activities import UserFilesActivities

FEATURE = Feature(
    name="user_files",
    activities=lambda resources: UserFilesActivities(resources).all(),
)
