"""Principal claims (tenant membership, roles and the effective permissions of those roles) that
the auth service puts in tokens."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.auth.models import Credential, PrincipalClaims
from storage.repository import Repository

#: The profile's display name (``user_profile_sync``'s copy), read with the claims.
_NAME = select(Credential.display_name).where(Credential.id == bindparam("user_id"))
_CLAIMS = select(PrincipalClaims.roles, PrincipalClaims.permissions, _NAME.scalar_subquery()).where(
    PrincipalClaims.user_id == bindparam("user_id"),
    PrincipalClaims.tenant_id == bindparam("tenant_id"),
)


@dataclass(frozen=True)
class MemberClaims:
    """What a member's access token states about their tenant: roles and the permissions the
    tenant service computed from them (empty for claims synced before permissions existed)."""

    roles: list[str] = field(default_factory=list)
    permissions: list[str] = field(default_factory=list)
    #: The profile's display name, put in tokens as ``name`` (None until one was copied).
    name: str | None = None


async def member_claims(
    db: AsyncSession | AsyncConnection, user_id: uuid.UUID, tenant_id: uuid.UUID
) -> MemberClaims | None:
    """The user's claims in the tenant, or None when they are not a member (an ORM session or,
    on hot paths, a Core connection)."""
    row = (await db.execute(_CLAIMS, {"user_id": user_id, "tenant_id": tenant_id})).first()
    if row is None:
        return None
    return MemberClaims(list(row[0]), list(row[1] or ()), row[2])


async def display_name(db: AsyncSession | AsyncConnection, user_id: uuid.UUID) -> str | None:
    """The profile's display name auth holds for the user (tokens outside any tenant)."""
    return (await db.execute(_NAME, {"user_id": user_id})).scalar()


async def member_roles(
    db: AsyncSession | AsyncConnection, user_id: uuid.UUID, tenant_id: uuid.UUID
) -> list[str] | None:
    """The user's roles in the tenant, or None when they are not a member."""
    claims = await member_claims(db, user_id, tenant_id)
    return claims.roles if claims is not None else None


class ClaimsRepository(Repository[PrincipalClaims]):
    model = PrincipalClaims

    async def roles(self, user_id: uuid.UUID, tenant_id: uuid.UUID) -> list[str] | None:
        """The user's roles in the tenant, or None when they are not a member."""
        return await member_roles(self.session, user_id, tenant_id)

    async def put(
        self,
        user_id: uuid.UUID,
        tenant_id: uuid.UUID,
        roles: Sequence[str],
        permissions: Sequence[str] = (),
    ) -> None:
        """Upsert: syncing the same claims twice is harmless (idempotent by nature)."""
        statement = insert(PrincipalClaims).values(
            user_id=user_id, tenant_id=tenant_id, roles=list(roles), permissions=list(permissions)
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[PrincipalClaims.user_id, PrincipalClaims.tenant_id],
                set_={
                    "roles": statement.excluded.roles,
                    "permissions": statement.excluded.permissions,
                    "updated_at": func.now(),
                },
            )
        )

    async def remove(self, user_id: uuid.UUID, tenant_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(PrincipalClaims).where(
                PrincipalClaims.user_id == user_id, PrincipalClaims.tenant_id == tenant_id
            )
        )
