"""SQL of a tenant's life cycle (the tenant workflows' activities, docs/tenancy.md): creating the
row under its provisioning key, status changes of the tenant and all its memberships, the
export of its rows and its erasure. Every function runs in the caller's transaction, opened
under the tenant (``storage.db.transaction(database, tenant_id)``: RLS on that tenant)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from storage.db import DbSession
from storage.tenants.models import Domain, Invitation, Membership, Role, Tenant


async def tenant_row(db: DbSession, tenant_id: uuid.UUID, *, lock: bool = False) -> Tenant | None:
    statement = select(Tenant).where(Tenant.id == tenant_id)
    if lock:
        statement = statement.with_for_update()
    return await db.scalar(statement)


async def insert_tenant(db: DbSession, tenant: Tenant) -> Tenant:
    """Insert (IntegrityError for a slug taken by any tenant: the unique index sees them all)."""
    db.add(tenant)
    await db.flush()
    return tenant


async def delete_tenant(db: DbSession, tenant_id: uuid.UUID) -> bool:
    """The tenant row; its memberships, roles, invitations and domains go with it (cascade)."""
    result = await db.execute(delete(Tenant).where(Tenant.id == tenant_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def memberships(db: DbSession, tenant_id: uuid.UUID) -> list[Membership]:
    return list(
        await db.scalars(
            select(Membership)
            .where(Membership.tenant_id == tenant_id)
            .order_by(Membership.joined_at, Membership.id)
        )
    )


async def set_membership_status(db: DbSession, tenant_id: uuid.UUID, status: str) -> None:
    await db.execute(
        update(Membership)
        .where(Membership.tenant_id == tenant_id)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )


async def role_permissions(db: DbSession, tenant_id: uuid.UUID) -> dict[str, list[str]]:
    """The tenant's custom roles and their permissions."""
    rows = await db.execute(select(Role.name, Role.permissions).where(Role.tenant_id == tenant_id))
    return {name: list(permissions) for name, permissions in rows.all()}


def _row(model: Any, *, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for column in model.__table__.columns:
        if column.key in leave_out:
            continue
        value = getattr(model, column.key)
        data[column.key] = (
            value.isoformat()
            if isinstance(value, datetime)
            else str(value)
            if isinstance(value, uuid.UUID)
            else value
        )
    return data


async def export_rows(db: DbSession, tenant_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    """Every tenants-schema row of the tenant as JSON-ready data (invitation token digests and
    domain TXT tokens left out: they are credentials, not the tenant's data)."""
    tenant = await tenant_row(db, tenant_id)
    tables: dict[str, list[dict[str, Any]]] = {"tenants": [_row(tenant)] if tenant else []}
    for name, model, leave_out in (
        ("memberships", Membership, ()),
        ("roles", Role, ()),
        ("invitations", Invitation, ("token_hash",)),
        ("domains", Domain, ("txt_token",)),
    ):
        rows = await db.scalars(select(model).where(model.tenant_id == tenant_id))
        tables[name] = [_row(row, leave_out=leave_out) for row in rows]
    return tables
