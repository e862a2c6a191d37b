"""Contract of the tenant service's copy of profile data for ``user_profile_sync`` (a user
service workflow): the display name and address on the user's memberships in every tenant (the
member list shows them)."""

from __future__ import annotations

from workflows.common.contracts import ActivityContract
from workflows.tenant.contracts import TENANT
from workflows.user.profile_sync_contracts import ProfileCopyInput, ProfileCopyOutput

SYNC_MEMBER_PROFILES = ActivityContract(
    "tenant.sync_member_profiles", TENANT, ProfileCopyInput, ProfileCopyOutput
)
