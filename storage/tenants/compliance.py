"""The tenants schema's side of the GDPR procedures: a person's memberships everywhere (and the
tenants they alone own), their rows in one tenant as JSON, an ownership transfer, the erasure.
The everywhere-reads need the person as the acting user (own-memberships policy); the rest is
read and written one tenant at a time (row-level security)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

NOBODY = uuid.UUID(int=0)


async def memberships_everywhere(
    db: AsyncSession, user_id: uuid.UUID
) -> list[tuple[uuid.UUID, str]]:
    rows = await db.execute(
        text(
            "SELECT tenant_id, role FROM tenants.memberships WHERE user_id = :uid "
            "ORDER BY joined_at, id"
        ),
        {"uid": user_id},
    )
    return [(r[0], r[1]) for r in rows]


async def active_owners(db: AsyncSession) -> list[uuid.UUID]:
    """The active owners of the transaction's tenant."""
    rows = await db.execute(
        text(
            "SELECT user_id FROM tenants.memberships WHERE role = 'owner' AND status = 'active' "
            "AND tenant_id = NULLIF(current_setting('adx.tenant_id', true), '')::uuid"
        )
    )
    return [r[0] for r in rows]


#: The person's rows in the transaction's tenant, as JSON.
TENANT_QUERIES: dict[str, str] = {
    "membership": "SELECT to_jsonb(m) FROM tenants.memberships m WHERE m.user_id = :uid",
    "tenant": "SELECT jsonb_build_object('id', t.id, 'slug', t.slug, 'name', t.name, "
    "'status', t.status, 'created_by_you', t.created_by = :uid) FROM tenants.tenants t "
    "WHERE t.id = NULLIF(current_setting('adx.tenant_id', true), '')::uuid",
    "role_permissions": "SELECT to_jsonb(r) FROM tenants.roles r JOIN tenants.memberships m "
    "ON m.role = r.name AND m.tenant_id = r.tenant_id WHERE m.user_id = :uid",
    "invitations": "SELECT to_jsonb(i) - 'token_hash' FROM tenants.invitations i "
    "WHERE i.inviter_id = :uid OR i.accepted_by = :uid OR lower(i.email) = :email",
}


async def tenant_rows(db: AsyncSession, user_id: uuid.UUID, email: str) -> dict[str, list[Any]]:
    return {
        name: list((await db.execute(text(q), {"uid": user_id, "email": email.lower()})).scalars())
        for name, q in TENANT_QUERIES.items()
    }


async def set_role(db: AsyncSession, user_id: uuid.UUID, role: str) -> str | None:
    """The member's role in the transaction's tenant set to ``role``; their previous role, or
    None when they are not an active member there."""
    previous = await db.scalar(
        text(
            "SELECT role FROM tenants.memberships WHERE user_id = :uid AND status = 'active' "
            "AND tenant_id = NULLIF(current_setting('adx.tenant_id', true), '')::uuid FOR UPDATE"
        ),
        {"uid": user_id},
    )
    if previous is None:
        return None
    await db.execute(
        text(
            "UPDATE tenants.memberships SET role = :role, updated_at = now() WHERE user_id = :uid "
            "AND tenant_id = NULLIF(current_setting('adx.tenant_id', true), '')::uuid"
        ),
        {"uid": user_id, "role": role},
    )
    return str(previous)


async def _count(db: AsyncSession, sql: str, **params: Any) -> int:
    return len((await db.execute(text(sql), params)).fetchall())


async def erase_in_tenant(db: AsyncSession, user_id: uuid.UUID, email: str) -> dict[str, int]:
    """Within the transaction's tenant: the membership, invitations to their address (deleted),
    their name on invitations and the tenant row (anonymised), recorded outcomes naming them."""
    pattern = f"%{user_id}%"
    email_pattern = f"%{_like(email.lower())}%" if email else "\x00"
    return {
        "memberships": await _count(
            db, "DELETE FROM tenants.memberships WHERE user_id = :uid RETURNING 1", uid=user_id
        ),
        "invitations": await _count(
            db,
            "DELETE FROM tenants.invitations WHERE accepted_by = :uid OR lower(email) = :email "
            "RETURNING 1",
            uid=user_id,
            email=email.lower(),
        ),
        "invitations_anonymised": await _count(
            db,
            "UPDATE tenants.invitations SET inviter_id = :nobody WHERE inviter_id = :uid "
            "RETURNING 1",
            uid=user_id,
            nobody=NOBODY,
        ),
        "tenants_anonymised": await _count(
            db,
            "UPDATE tenants.tenants SET created_by = :nobody WHERE created_by = :uid RETURNING 1",
            uid=user_id,
            nobody=NOBODY,
        ),
        "membership_outcomes": await _count(
            db,
            "DELETE FROM tenants.membership_change_outcomes WHERE outcome::text LIKE :pattern "
            "OR lower(outcome::text) LIKE :email_pattern RETURNING 1",
            pattern=pattern,
            email_pattern=email_pattern,
        ),
    }


async def erase_own(db: AsyncSession, user_id: uuid.UUID) -> dict[str, int]:
    """The person's active-tenant row (its policy: the acting user's own row)."""
    return {
        "active_tenants": await _count(
            db, "DELETE FROM tenants.active_tenants WHERE user_id = :uid RETURNING 1", uid=user_id
        )
    }


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
