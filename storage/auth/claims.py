"""Principal claims (tenant membership and roles) that the auth service puts in tokens."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from storage.auth.models import PrincipalClaims
from storage.repository import Repository


class ClaimsRepository(Repository[PrincipalClaims]):
    model = PrincipalClaims

    async def roles(self, user_id: uuid.UUID, tenant_id: uuid.UUID) -> list[str] | None:
        """The user's roles in the tenant, or None when they are not a member."""
        row = await self.session.scalar(
            select(PrincipalClaims.roles).where(
                PrincipalClaims.user_id == user_id, PrincipalClaims.tenant_id == tenant_id
            )
        )
        return list(row) if row is not None else None

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
