"""Auth's copy of profile data (``user_profile_sync``): the display name on the credential, for
the ``name`` claim of access tokens, written only by a newer profile version."""

from __future__ import annotations

import uuid

from sqlalchemy import update

from storage.auth.models import Credential
from storage.db import DbSession


async def copy_display_name(
    db: DbSession, user_id: uuid.UUID, display_name: str, version: int
) -> int:
    """The rows changed: 0 when the credential holds this version or a later one (a retried or
    late delivery), or there is no such credential."""
    result = await db.execute(
        update(Credential)
        .where(Credential.id == user_id, Credential.profile_version < version)
        .values(display_name=display_name, profile_version=version)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
