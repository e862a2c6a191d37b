"""The owner's side of ``data_migration``: a tenant's memberships in keyset batches by user id
(the transaction's tenant)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from storage.db import DbSession
from storage.tenants.models import Membership, Tenant


async def members_after(
    db: DbSession, tenant_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[Membership]:
    statement = select(Membership).where(Membership.tenant_id == tenant_id)
    if after is not None:
        statement = statement.where(Membership.user_id > after)
    return list(await db.scalars(statement.order_by(Membership.user_id).limit(limit)))


async def members_among(
    db: DbSession, tenant_id: uuid.UUID, user_ids: list[uuid.UUID]
) -> list[Membership]:
    statement = select(Membership).where(
        Membership.tenant_id == tenant_id, Membership.user_id.in_(user_ids)
    )
    return list(await db.scalars(statement.order_by(Membership.user_id)))


async def member_count(db: DbSession, tenant_id: uuid.UUID) -> int:
    statement = select(func.count()).where(Membership.tenant_id == tenant_id)
    return int(await db.scalar(statement) or 0)


async def storage_quota(db: DbSession, tenant_id: uuid.UUID) -> int | None:
    """The tenant's plan quota (``tenants.storage_quota_bytes``); None: no such tenant."""
    statement = select(Tenant.storage_quota_bytes).where(Tenant.id == tenant_id)
    value = await db.scalar(statement)
    return int(value) if value is not None else None


async def member_profiles(
    db: DbSession, tenant_id: uuid.UUID, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str, int]]:
    """user id -> (display name, e-mail, profile version) on the memberships (the
    ``profile_names`` copy the member list shows)."""
    statement = select(
        Membership.user_id, Membership.display_name, Membership.email, Membership.profile_version
    ).where(Membership.tenant_id == tenant_id, Membership.user_id.in_(user_ids))
    rows = await db.execute(statement)
    return {row[0]: (row[1], row[2], int(row[3])) for row in rows}
