"""Contract of the file service's copy of profile data for ``user_profile_sync`` (a user service
workflow): the owner's name on the files they own, where the files table keeps one."""

from __future__ import annotations

from workflows.common.contracts import ActivityContract
from workflows.file.tenant_storage_contracts import FILE
from workflows.user.profile_sync_contracts import ProfileCopyInput, ProfileCopyOutput

SYNC_OWNER_NAME = ActivityContract(
    "file.sync_owner_name", FILE, ProfileCopyInput, ProfileCopyOutput
)
