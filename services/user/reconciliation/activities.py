"""``user.reconcile_directory`` (queue ``<prefix>-user``): the directory entries of one tenant
compared (role and status) with the tenant service's batch of memberships over the same key
range. For the ``profile_names`` copy: ``user.reconcile_read_profiles`` (the owner: the profiles
of a batch of members) and ``user.reconcile_directory_profiles`` (the directory's names and
addresses compared with them). Reads only, but for ``user.reconcile_resync_profiles``: a
repair's forced re-sync of profiles whose copies drifted at the profile's own version (their
versions bumped, nothing else)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from services.common.reconciliation import checked, key_range, require_platform
from services.common.resources import Resources
from storage.db import transaction
from storage.users.reconciliation import (
    bump_profile_versions,
    entries_between,
    entry_names,
    profiles_among,
)
from workflows.reconciliation.contracts import (
    COMPARE_DIRECTORY,
    COMPARE_DIRECTORY_PROFILES,
    READ_PROFILES,
    RESYNC_PROFILES,
    CompareInput,
    CompareOutput,
    CompareProfilesInput,
    ProfileDigest,
    ReadProfilesInput,
    ReadProfilesOutput,
    ResyncProfilesInput,
)
from workflows.reconciliation.rules import checked_profiles, checked_user_ids, drift_of, parse_id


class DirectoryReconciliationActivities:
    def __init__(self, resources: Resources) -> None:
        self.database = resources.database

    @COMPARE_DIRECTORY.implement
    async def reconcile_directory(self, input: CompareInput) -> CompareOutput:
        require_platform()
        tenant_id = checked(lambda: parse_id(input.tenant_id, "tenant id"))
        after, upto = key_range(input.after, input.upto)
        expected: dict[uuid.UUID, object] = checked(
            lambda: {parse_id(m.user_id, "user id"): (m.role, m.status) for m in input.members}
        )
        async with transaction(self.database, tenant_id) as db:
            held: dict[uuid.UUID, object] = dict(await entries_between(db, tenant_id, after, upto))
        return drift_of(expected, held)

    @READ_PROFILES.implement
    async def reconcile_read_profiles(self, input: ReadProfilesInput) -> ReadProfilesOutput:
        """The profiles of these members of the tenant (profiles are not tenant-owned)."""
        require_platform()
        checked(lambda: parse_id(input.tenant_id, "tenant id"))
        user_ids = checked(lambda: checked_user_ids(input.user_ids))
        async with transaction(self.database) as db:
            rows = await profiles_among(db, user_ids) if user_ids else {}
        return _digests(rows)

    @RESYNC_PROFILES.implement
    async def reconcile_resync_profiles(self, input: ResyncProfilesInput) -> ReadProfilesOutput:
        require_platform()
        checked(lambda: parse_id(input.tenant_id, "tenant id"))
        user_ids = checked(lambda: checked_user_ids(input.user_ids))
        async with transaction(self.database) as db:
            rows = await bump_profile_versions(db, user_ids) if user_ids else {}
        return _digests(rows)

    @COMPARE_DIRECTORY_PROFILES.implement
    async def reconcile_directory_profiles(self, input: CompareProfilesInput) -> CompareOutput:
        """Names and addresses of the tenant's entries (the directory keeps no version: it is
        refreshed from the profile row itself)."""
        require_platform()
        tenant_id = checked(lambda: parse_id(input.tenant_id, "tenant id"))
        owner = checked(lambda: checked_profiles(input.profiles))
        async with transaction(self.database, tenant_id) as db:
            rows = await entry_names(db, tenant_id, list(owner)) if owner else {}
        expected: dict[uuid.UUID, object] = {u: (p.display_name, p.email) for u, p in owner.items()}
        return drift_of(expected, dict(rows))

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.reconcile_directory,
            self.reconcile_read_profiles,
            self.reconcile_resync_profiles,
            self.reconcile_directory_profiles,
        ]


def _digests(rows: dict[uuid.UUID, tuple[str, str, int]]) -> ReadProfilesOutput:
    return ReadProfilesOutput(
        profiles=[
            ProfileDigest(str(u), name, email, version)
            for u, (name, email, version) in sorted(rows.items())
        ]
    )
