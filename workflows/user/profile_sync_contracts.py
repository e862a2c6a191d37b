"""Contracts of ``user_profile_sync`` (docs/users.md, "Profile sync"): the one input and output
every copy's activity takes, and the user service's own copy, the directory.

Each service that keeps a copy of profile data implements one activity on its own queue over
these types (``workflows/auth/profile_copies_contracts.py``,
``workflows/tenant/profile_copies_contracts.py``, ``workflows/file/owner_contracts.py``). A copy
is written only when ``version`` is newer than the one it holds (``... WHERE profile_version <
:version``), so a retried, repeated or late delivery of an older change changes nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from workflows.common.contracts import ActivityContract
from workflows.common.errors import business_error
from workflows.user.contracts import USER, UserError


@dataclass
class ProfileCopyInput:
    """The profile as one committed change left it (personal data: the payload codec encrypts
    it; never a search attribute, never logged)."""

    user_id: str
    #: The profile row's version (``storage.users.repository.profile_version``): strictly
    #: increasing per user, so a copy keeps the latest whatever order deliveries arrive in.
    version: int
    display_name: str
    email: str
    idempotency_key: str


@dataclass
class ProfileCopyOutput:
    #: Rows this call changed (0: the copy held this version or a later one already).
    changed: int
    #: False when the service keeps no copy of profile data (the file service today).
    kept: bool = True


#: The directory entries of the user in every tenant, refreshed from the profile row itself
#: (same database, read under a row lock), so they can never go back to an older change.
SYNC_DIRECTORY_PROFILE = ActivityContract(
    "user.sync_directory_profile", USER, ProfileCopyInput, ProfileCopyOutput
)


def checked_copy(input: ProfileCopyInput) -> uuid.UUID:
    """The user id of a well-formed copy input (every copy's activity checks it first); a
    malformed one fails for good (``UserError.INVALID_INPUT``), retrying cannot fix it."""
    try:
        user_id = uuid.UUID(str(input.user_id))
    except ValueError:
        raise business_error(UserError.INVALID_INPUT, "invalid user id") from None
    if not isinstance(input.version, int) or not 0 < input.version < 2**63:
        raise business_error(UserError.INVALID_INPUT, "invalid profile version")
    if not 0 < len(input.display_name) <= 200 or len(input.email) > 320:
        raise business_error(UserError.INVALID_INPUT, "display name or e-mail out of bounds")
    return user_id
