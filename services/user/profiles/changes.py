"""A profile change: the row, and the names and address copied into the directory entries the
transaction reaches (the caller's own in every tenant; a member's in the active tenant); then,
once committed, ``user_profile_sync`` carries it to every other copy (``save_profile``)."""

from __future__ import annotations

import uuid
from typing import Any

from services.common.resources import Resources
from services.user.errors import user_error
from services.user.profile_sync.changes import COPIED_FIELDS, announce, change_of
from storage.db import DbSession
from storage.users.directory import MemberEntries, name_text
from storage.users.models import Profile
from storage.users.repository import ProfileRepository
from workflows.user.contracts import UserError

#: The fields whose change reaches the directory's copy.
DIRECTORY_FIELDS = frozenset({"display_name", "given_name", "family_name"})


async def change_profile(db: DbSession, user_id: uuid.UUID, changes: dict[str, Any]) -> Profile:
    row = await ProfileRepository(db).update(user_id, changes)
    if row is None:
        raise user_error(UserError.USER_NOT_FOUND, f"user {user_id} not found")
    if DIRECTORY_FIELDS & set(changes):
        await MemberEntries(db).refresh_names(
            user_id,
            display_name=row.display_name,
            email=row.email,
            search_name=name_text(row.display_name, row.given_name, row.family_name),
        )
    return row


async def save_profile(
    db: DbSession, resources: Resources, user_id: uuid.UUID, changes: dict[str, Any]
) -> Profile:
    """The change committed, then announced to ``user_profile_sync`` when it touched a field
    another service copies (a 503 then says the copies could not be told: the change is saved,
    and sending it again tells them)."""
    row = await change_profile(db, user_id, changes)
    if COPIED_FIELDS & set(changes):
        change = change_of(row)
        await db.commit()
        await announce(resources, change)
    return row
