"""Auth's side of ``data_migration``: the claims of one tenant over a key range of user ids."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from storage.auth.models import Credential, PrincipalClaims
from storage.db import DbSession


async def claims_between(
    db: DbSession, tenant_id: uuid.UUID, after: uuid.UUID | None, upto: uuid.UUID | None
) -> dict[uuid.UUID, tuple[list[str], list[str]]]:
    """user id -> (roles, permissions) for ``after < user_id <= upto`` (open bounds: None)."""
    statement = select(
        PrincipalClaims.user_id, PrincipalClaims.roles, PrincipalClaims.permissions
    ).where(PrincipalClaims.tenant_id == tenant_id)
    if after is not None:
        statement = statement.where(PrincipalClaims.user_id > after)
    if upto is not None:
        statement = statement.where(PrincipalClaims.user_id <= upto)
    rows = await db.execute(statement)
    return {row[0]: (list(row[1]), list(row[2] or ())) for row in rows}


async def credential_names(
    db: DbSession, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[str | None, int]]:
    """user id -> (display name, profile version) on the credentials (the ``profile_names``
    copy that access tokens read)."""
    statement = select(Credential.id, Credential.display_name, Credential.profile_version).where(
        Credential.id.in_(user_ids)
    )
    rows = await db.execute(statement)
    return {row[0]: (row[1], int(row[2])) for row in rows}
