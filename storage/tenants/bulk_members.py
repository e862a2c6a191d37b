"""The memberships of a bulk import's batch (``tenant.bulk_add_members``): who of the batch is a
member already, and the new ones added in one statement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from storage.db import DbSession
from storage.tenants.models import Membership, MembershipStatus


async def roles_of(
    session: DbSession, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The role of each of ``user_ids`` who is a member of the tenant already."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(Membership.user_id, Membership.role).where(
            Membership.tenant_id == tenant_id, Membership.user_id.in_(list(user_ids))
        )
    )
    return {user_id: role for user_id, role in rows}


async def add_members(
    session: DbSession, tenant_id: uuid.UUID, members: Sequence[tuple[uuid.UUID, str]]
) -> set[uuid.UUID]:
    """``(user_id, role)`` pairs added as active members; the users added (one already a member
    meanwhile is not)."""
    if not members:
        return set()
    added = await session.execute(
        insert(Membership)
        .values(
            [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": tenant_id,
                    "user_id": user_id,
                    "role": role,
                    "status": MembershipStatus.ACTIVE.value,
                }
                for user_id, role in members
            ]
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "user_id"])
        .returning(Membership.user_id)
    )
    return set(added.scalars())


async def remove_members(
    session: DbSession, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """The memberships of ``user_ids`` in the tenant deleted; the users removed."""
    if not user_ids:
        return set()
    removed = await session.execute(
        delete(Membership)
        .where(Membership.tenant_id == tenant_id, Membership.user_id.in_(list(user_ids)))
        .returning(Membership.user_id)
    )
    return set(removed.scalars())
