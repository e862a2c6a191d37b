"""The users schema's side of the GDPR procedures: one person's rows as JSON and their erasure.
Tenant-owned tables are read and written one tenant at a time (row-level security); profiles
and the person's own preferences are reachable with the person as the acting user."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

#: Nobody: what an anonymised "who did it" column (NOT NULL) holds afterwards.
NOBODY = uuid.UUID(int=0)

#: The person's own rows (the transaction names them as the acting user).
OWN_QUERIES: dict[str, str] = {
    "profile": "SELECT to_jsonb(p) - 'idempotency_key' FROM users.profiles p WHERE p.id = :uid",
    "preferences": "SELECT to_jsonb(p) - 'id' FROM users.preferences p "
    "WHERE p.user_id = :uid AND p.tenant_id IS NULL",
}
#: Their rows in one tenant (the transaction scoped to it).
TENANT_QUERIES: dict[str, str] = {
    "directory": "SELECT to_jsonb(d) - 'name_text' FROM users.directory d WHERE d.user_id = :uid",
    "first_runs": "SELECT to_jsonb(f) - 'idempotency_key' FROM users.first_runs f "
    "WHERE f.user_id = :uid",
    "tenant_preferences": "SELECT to_jsonb(p) - 'id' FROM users.preferences p "
    "WHERE p.user_id = :uid AND p.tenant_id IS NOT NULL",
    "scim_attributes": "SELECT to_jsonb(s) FROM users.scim_users s WHERE s.user_id = :uid",
}


async def _rows(db: AsyncSession, query: str, user_id: uuid.UUID) -> list[Any]:
    return list((await db.execute(text(query), {"uid": user_id})).scalars())


async def own_rows(db: AsyncSession, user_id: uuid.UUID) -> dict[str, list[Any]]:
    return {name: await _rows(db, q, user_id) for name, q in OWN_QUERIES.items()}


async def tenant_rows(db: AsyncSession, user_id: uuid.UUID) -> dict[str, list[Any]]:
    return {name: await _rows(db, q, user_id) for name, q in TENANT_QUERIES.items()}


async def _count(db: AsyncSession, sql: str, **params: Any) -> int:
    return len((await db.execute(text(sql), params)).fetchall())


async def erase_in_tenant(db: AsyncSession, user_id: uuid.UUID, email: str) -> dict[str, int]:
    """Within the transaction's tenant: the directory entry (its search words follow), the
    first-run row, tenant preferences, SCIM attributes, bulk rows about them (their data replaced), and their name on operations
    and SCIM tokens they started (anonymised to ``NOBODY``)."""
    pattern = f"%{user_id}%"
    return {
        "directory": await _count(
            db, "DELETE FROM users.directory WHERE user_id = :uid RETURNING 1", uid=user_id
        ),
        "first_runs": await _count(
            db, "DELETE FROM users.first_runs WHERE user_id = :uid RETURNING 1", uid=user_id
        ),
        "tenant_preferences": await _count(
            db,
            "DELETE FROM users.preferences WHERE user_id = :uid AND tenant_id IS NOT NULL "
            "RETURNING 1",
            uid=user_id,
        ),
        "scim_users": await _count(
            db, "DELETE FROM users.scim_users WHERE user_id = :uid RETURNING 1", uid=user_id
        ),
        "bulk_rows_anonymised": await _count(
            db,
            "UPDATE users.bulk_operation_rows SET user_id = NULL, "
            "data = jsonb_build_object('anonymised', true), error = NULL "
            "WHERE user_id = :uid OR data::text LIKE :pattern OR lower(data::text) LIKE :email "
            "RETURNING 1",
            uid=user_id,
            pattern=pattern,
            email=f"%{_like(email.lower())}%" if email else "\x00",
        ),
        "bulk_operations_anonymised": await _count(
            db,
            "UPDATE users.bulk_operations SET actor_id = :nobody WHERE actor_id = :uid RETURNING 1",
            uid=user_id,
            nobody=NOBODY,
        ),
        "scim_tokens_anonymised": await _count(
            db,
            "UPDATE users.scim_tokens SET created_by = :nobody WHERE created_by = :uid RETURNING 1",
            uid=user_id,
            nobody=NOBODY,
        ),
    }


async def erase_own(db: AsyncSession, user_id: uuid.UUID) -> dict[str, int]:
    """The profile and every preferences row of the person (the acting user)."""
    return {
        "preferences": await _count(
            db, "DELETE FROM users.preferences WHERE user_id = :uid RETURNING 1", uid=user_id
        ),
        "profiles": await _count(
            db, "DELETE FROM users.profiles WHERE id = :uid RETURNING 1", uid=user_id
        ),
    }


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
