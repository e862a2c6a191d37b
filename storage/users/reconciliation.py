"""The directory's side of ``data_migration``: one tenant's entries over a key range of user
ids (the transaction's tenant)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select, update

from storage.db import DbSession
from storage.users.models import DirectoryEntry, Profile
from storage.users.repository import profile_version


async def entries_between(
    db: DbSession, tenant_id: uuid.UUID, after: uuid.UUID | None, upto: uuid.UUID | None
) -> dict[uuid.UUID, tuple[str, str]]:
    """user id -> (role, status) for ``after < user_id <= upto`` (open bounds: None)."""
    statement = select(DirectoryEntry.user_id, DirectoryEntry.role, DirectoryEntry.status).where(
        DirectoryEntry.tenant_id == tenant_id
    )
    if after is not None:
        statement = statement.where(DirectoryEntry.user_id > after)
    if upto is not None:
        statement = statement.where(DirectoryEntry.user_id <= upto)
    rows = await db.execute(statement)
    return {row[0]: (row[1], row[2]) for row in rows}


async def profiles_among(
    db: DbSession, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str, int]]:
    """user id -> (display name, e-mail, version) of these profiles (the owner of the
    ``profile_names`` copies); a user without a profile is left out."""
    rows = await db.scalars(select(Profile).where(Profile.id.in_(user_ids)))
    return {p.id: (p.display_name, p.email, profile_version(p)) for p in rows}


async def bump_profile_versions(
    db: DbSession, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str, int]]:
    """A repair's forced re-sync: these profiles' versions moved past every copy's (their
    ``updated_at`` to now, or a microsecond on if the clock lags), nothing else changed; answers
    them as ``profiles_among`` does."""
    statement = (
        update(Profile)
        .where(Profile.id.in_(user_ids))
        .values(
            updated_at=func.greatest(
                func.clock_timestamp(), Profile.updated_at + timedelta(microseconds=1)
            )
        )
        .returning(Profile)
        .execution_options(synchronize_session=False)
    )
    rows = await db.scalars(statement)
    return {p.id: (p.display_name, p.email, profile_version(p)) for p in rows}


async def entry_names(
    db: DbSession, tenant_id: uuid.UUID, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str]]:
    """user id -> (display name, e-mail) of the tenant's directory entries."""
    statement = select(DirectoryEntry.user_id, DirectoryEntry.display_name, DirectoryEntry.email)
    statement = statement.where(
        DirectoryEntry.tenant_id == tenant_id, DirectoryEntry.user_id.in_(user_ids)
    )
    rows = await db.execute(statement)
    return {row[0]: (row[1], row[2]) for row in rows}
