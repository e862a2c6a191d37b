"""Principal claims (tenant membership and roles) that the auth service puts in tokens."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.auth.models import PrincipalClaims
from storage.repository import Repository

_ROLES = select(PrincipalClaims.roles).where(
    PrincipalClaims.user_id == bindparam("user_id"),
    PrincipalClaims.tenant_id == bindparam("tenant_id"),
)


async def member_roles(
    db: AsyncSession | AsyncConnection, user_id: uuid.UUID, tenant_id: uuid.UUID
) -> list[str] | None:
    """The user's roles in the tenant, or None when they are not a member (an ORM session or,
    on hot paths, a Core connection)."""
    row = await db.scalar(_ROLES, {"user_id": user_id, "tenant_id": tenant_id})
    return list(row) if row is not None else None


class ClaimsRepository(Repository[PrincipalClaims]):
    model = PrincipalClaims

    async def roles(self, user_id: uuid.UUID, tenant_id: uuid.UUID) -> list[str] | None:
        """The user's roles in the tenant, or None when they are not a member."""
        return await member_roles(self.session, user_id, tenant_id)

    async def put(self, user_id: uuid.UUID, tenant_id: uuid.UUID, roles: Sequence[str]) -> None:
        """Upsert: syncing the same claims twice is harmless (idempotent by nature)."""
        statement = insert(PrincipalClaims).values(
            user_id=user_id, tenant_id=tenant_id, roles=list(roles)
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[PrincipalClaims.user_id, PrincipalClaims.tenant_id],
                set_={"roles": statement.excluded.roles, "updated_at": func.now()},
            )
        )

    async def remove(self, user_id: uuid.UUID, tenant_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(PrincipalClaims).where(
                PrincipalClaims.user_id == user_id, PrincipalClaims.tenant_id == tenant_id
            )
        )
