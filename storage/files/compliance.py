"""The files schema's side of the GDPR procedures: the files a person owns in one tenant (with
their shares, where ``files.file_shares`` exists), shares granted to them, and the erasure of
their rows. Read and written one tenant at a time (row-level security); the blobs are the
caller's to remove (``blob_keys_of``). ``tenants_with_files`` finds the tenants to visit beyond
the person's memberships (a tenant they left still holds their files)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class OwnedFile:
    id: uuid.UUID
    name: str
    folder: str
    blob_key: str
    size: int
    status: str


async def has_shares(db: AsyncSession) -> bool:
    """Whether ``files.file_shares`` exists (file sharing arrives in its own migration)."""
    return bool(await db.scalar(text("SELECT to_regclass('files.file_shares') IS NOT NULL")))


#: The person a GDPR step acts on: policy ``compliance_subject_files`` (migration files_0008)
#: shows their files in every tenant to a transaction that names them here.
SUBJECT_SETTING = "adx.compliance_subject"


async def tenants_with_files(db: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    """Every tenant where the person owns a file, those they have left included (no membership
    names them there). Only for a GDPR step that checked it acts for this person: the
    transaction is scoped to them alone (transaction-local), not to a tenant."""
    await db.execute(
        text("SELECT set_config(:name, :uid, true)"), {"name": SUBJECT_SETTING, "uid": str(user_id)}
    )
    rows = await db.execute(
        text("SELECT DISTINCT tenant_id FROM files.files WHERE owner_id = :uid ORDER BY tenant_id"),
        {"uid": user_id},
    )
    return [r[0] for r in rows]


async def owned_files(db: AsyncSession, user_id: uuid.UUID) -> list[OwnedFile]:
    """Their files in the transaction's tenant, soft-deleted ones included (still stored)."""
    rows = await db.execute(
        text(
            "SELECT id, name, folder, blob_key, size, status FROM files.files "
            "WHERE owner_id = :uid ORDER BY folder, name, id"
        ),
        {"uid": user_id},
    )
    return [OwnedFile(*row) for row in rows]


async def file_rows(db: AsyncSession, user_id: uuid.UUID) -> dict[str, list[Any]]:
    sections: dict[str, str] = {
        "files": "SELECT to_jsonb(f) - 'blob_key' - 'workflow_id' FROM files.files f "
        "WHERE f.owner_id = :uid ORDER BY f.folder, f.name",
    }
    if await has_shares(db):
        sections["shares_of_your_files"] = (
            "SELECT to_jsonb(s) - 'password_hash' - 'workflow_id' FROM files.file_shares s "
            "JOIN files.files f ON f.id = s.file_id WHERE f.owner_id = :uid"
        )
        sections["shared_with_you"] = (
            "SELECT to_jsonb(s) - 'password_hash' - 'workflow_id' FROM files.file_shares s "
            "WHERE s.kind = 'member' AND s.grantee = :uid_text"
        )
    return {
        name: list(
            (await db.execute(text(q), {"uid": user_id, "uid_text": str(user_id)})).scalars()
        )
        for name, q in sections.items()
    }


async def blob_keys_of(db: AsyncSession, file_ids: list[uuid.UUID]) -> list[str]:
    """Every blob of these files: the file's own and its thumbnails'."""
    if not file_ids:
        return []
    rows = await db.execute(
        text(
            "SELECT blob_key FROM files.files WHERE id = ANY(:ids) "
            "UNION SELECT blob_key FROM files.file_renditions WHERE file_id = ANY(:ids)"
        ),
        {"ids": file_ids},
    )
    return [r[0] for r in rows]


async def _count(db: AsyncSession, sql: str, **params: Any) -> int:
    return len((await db.execute(text(sql), params)).fetchall())


async def erase_in_tenant(
    db: AsyncSession, user_id: uuid.UUID, file_ids: list[uuid.UUID]
) -> dict[str, int]:
    """Within the transaction's tenant: the files (their processing rows, renditions and
    shares), shares granted to the person, their id on shares others made (cleared)."""
    counts: dict[str, int] = {}
    if await has_shares(db):
        counts["shares"] = await _count(
            db,
            "DELETE FROM files.file_shares WHERE file_id = ANY(:ids) "
            "OR (kind = 'member' AND grantee = :uid_text) RETURNING 1",
            ids=file_ids,
            uid_text=str(user_id),
        )
        counts["shares_anonymised"] = await _count(
            db,
            "UPDATE files.file_shares SET created_by = CASE WHEN created_by = :uid THEN NULL "
            "ELSE created_by END, revoked_by = CASE WHEN revoked_by = :uid THEN NULL "
            "ELSE revoked_by END WHERE created_by = :uid OR revoked_by = :uid RETURNING 1",
            uid=user_id,
        )
    counts["renditions"] = await _count(
        db, "DELETE FROM files.file_renditions WHERE file_id = ANY(:ids) RETURNING 1", ids=file_ids
    )
    counts["processing"] = await _count(
        db, "DELETE FROM files.file_processing WHERE file_id = ANY(:ids) RETURNING 1", ids=file_ids
    )
    counts["files"] = await _count(
        db,
        "DELETE FROM files.files WHERE id = ANY(:ids) OR owner_id = :uid RETURNING 1",
        ids=file_ids,
        uid=user_id,
    )
    return counts
