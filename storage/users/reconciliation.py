"""The directory's side of ``data_migration``: one tenant's entries over a key range of user
ids (the transaction's tenant)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from storage.db import DbSession
from storage.users.models import DirectoryEntry


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
