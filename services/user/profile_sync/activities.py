"""``user.sync_directory_profile`` (queue ``<prefix>-user``), the user service's own step of
``user_profile_sync``: the user's directory entries in every tenant refreshed from the profile
row itself, read share-locked in the same transaction, so an entry never goes back to an older
change whatever the order of deliveries (the input's version only says which change asked).
A repeated refresh changes no row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.common.resources import Resources
from services.common.security_context import require_flow_step
from storage.db import transaction
from storage.users.directory import MemberEntries, name_text
from storage.users.repository import ProfileRepository
from workflows.common.errors import business_error
from workflows.user.contracts import UserError, UserWorkflow
from workflows.user.profile_sync_contracts import (
    SYNC_DIRECTORY_PROFILE,
    ProfileCopyInput,
    ProfileCopyOutput,
    checked_copy,
)


class DirectoryProfileActivities:
    def __init__(self, resources: Resources) -> None:
        self.database = resources.database

    @SYNC_DIRECTORY_PROFILE.implement
    async def sync_directory_profile(self, input: ProfileCopyInput) -> ProfileCopyOutput:
        require_flow_step(input.idempotency_key, UserWorkflow.USER_PROFILE_SYNC)
        user_id = checked_copy(input)
        # Acting as the user: their own entries are readable and their names writable in every
        # tenant (policies ``own_entries``, ``own_entries_names``).
        async with transaction(self.database, user_id=user_id) as db:
            row = await ProfileRepository(db).locked(user_id)
            if row is None:
                raise business_error(UserError.USER_NOT_FOUND, f"user {user_id} not found")
            changed = await MemberEntries(db).refresh_names(
                user_id,
                display_name=row.display_name,
                email=row.email,
                search_name=name_text(row.display_name, row.given_name, row.family_name),
            )
        return ProfileCopyOutput(changed=changed)

    def all(self) -> list[Callable[..., Any]]:
        return [self.sync_directory_profile]
