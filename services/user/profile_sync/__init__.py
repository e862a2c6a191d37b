"""User capability: profile sync (``user_profile_sync``, docs/users.md "Profile sync"): the
workflow that carries a profile change to every copy, the hook the profile routes call after
their commit (``changes``), and the user service's own copy step, the directory."""

from services.common.feature import Feature
from services.user.profile_sync.activities import DirectoryProfileActivities
from workflows.accounts.profile_sync import UserProfileSyncWorkflow

FEATURE = Feature(
    name="profile_sync",
    workflows=[UserProfileSyncWorkflow],
    activities=lambda resources: DirectoryProfileActivities(resources).all(),
)
