"""The hook of a profile change: once its transaction has committed, the user's
``user_profile_sync`` run is signalled with start, carrying the row's version, so every copy
other services keep follows (``workflows/user/profile_sync.py``)."""

from __future__ import annotations

from services.common import workflow_calls
from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName
from services.common.workflow_calls import WorkflowErrors
from storage.users.models import Profile
from storage.users.repository import profile_version
from workflows.accounts.profile_sync import (
    PROFILE_CHANGED_SIGNAL,
    ProfileChange,
    ProfileSyncInput,
    UserProfileSyncWorkflow,
    user_profile_sync_workflow_id,
)

#: The profile fields some other service keeps a copy of (tokens, member lists, directory).
COPIED_FIELDS = frozenset({"display_name", "given_name", "family_name"})
ERRORS = WorkflowErrors(
    call="user-profile-sync",
    unavailable="The profile was saved; other services could not be told yet: send it again.",
)


def change_of(row: Profile) -> ProfileChange:
    return ProfileChange(
        user_id=str(row.id),
        version=profile_version(row),
        display_name=row.display_name,
        email=row.email,
    )


async def announce(resources: Resources, change: ProfileChange) -> None:
    """Signal-with-start ``user-profile-sync-<user id>``; call it after the commit (a run must
    never copy what a rolled-back transaction wrote). The run acts as the platform: it outlives
    any one change and only copies committed rows; the route authorised this change."""
    with acting_as(SecurityContext.system("user-profile-sync")):
        await workflow_calls.start(
            resources.temporal,
            UserProfileSyncWorkflow.run,
            ProfileSyncInput(user_id=change.user_id),
            id=user_profile_sync_workflow_id(change.user_id),
            task_queue=resources.settings.task_queue(ServiceName.user),
            errors=ERRORS,
            start_signal=PROFILE_CHANGED_SIGNAL,
            start_signal_args=[change],
        )
