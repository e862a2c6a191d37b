"""Contract of auth's copy of profile data for ``user_profile_sync`` (a user service workflow):
the display name put in access tokens (``name``), kept on the credential with the version it
came from."""

from __future__ import annotations

from workflows.auth.contracts import AUTH
from workflows.common.contracts import ActivityContract
from workflows.user.profile_sync_contracts import ProfileCopyInput, ProfileCopyOutput

SYNC_PROFILE_CLAIMS = ActivityContract(
    "auth.sync_profile_claims", AUTH, ProfileCopyInput, ProfileCopyOutput
)
