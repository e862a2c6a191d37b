"""The owner's side of ``data_migration``: a tenant's memberships in keyset batches by user id
(the transaction's tenant), and for the all-tenants scope the tenant ids themselves (a
platform-scoped read, policy ``platform_tenant_ids``, migration tenants_0006)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, text

from storage.db import DbSession
from storage.tenants.models import Membership, Tenant

#: The setting that policy ``platform_tenant_ids`` reads, and the one value it admits.
PLATFORM_READER = "adx.platform_reader"
TENANT_IDS_READER = "tenant-ids"
#: A deleted tenant has nothing left to reconcile (nor does one still being provisioned).
_LISTED = ("active", "suspended", "deleting")


async def tenant_ids_after(db: DbSession, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
    """Up to ``limit`` tenant ids after ``after`` in id order, of every tenant: for the
    platform's reconciliation only (its caller checks that the platform runs it). The
    transaction is widened for this read alone (the setting is transaction-local) and answers
    ids, nothing else of the rows."""
    await db.execute(
        text("SELECT set_config(:name, :value, true)"),
        {"name": PLATFORM_READER, "value": TENANT_IDS_READER},
    )
    statement = select(Tenant.id).where(Tenant.status.in_(_LISTED))
    if after is not None:
        statement = statement.where(Tenant.id > after)
    return list(await db.scalars(statement.order_by(Tenant.id).limit(limit)))


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
