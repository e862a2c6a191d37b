"""The files a deactivation moves to another owner, and back (``files.file_transfers``).

Both moves are idempotent: the transfer first records which of the user's live files it moves
(under the run's key, one row per file), then moves exactly the recorded files still owned by the
user; the restore moves back the recorded files still owned by their new owner and marks them
restored. A retried call finds its rows and moves nothing twice."""

from __future__ import annotations

import uuid

from sqlalchemy import String, func, literal, select, update
from sqlalchemy.dialects.postgresql import UUID, insert

from storage.db import DbSession
from storage.files.models import FileRecord, FileTransfer


async def transfer_files(
    db: DbSession, tenant_id: uuid.UUID, from_user: uuid.UUID, to_user: uuid.UUID, key: str
) -> int:
    """Move ``from_user``'s live files in the tenant to ``to_user`` under ``key``; answers how
    many files ``key`` moved in this tenant (the same on a retry)."""
    owned = select(
        FileRecord.tenant_id,
        FileRecord.id,
        literal(key, String(255)),
        FileRecord.owner_id,
        literal(to_user, UUID(as_uuid=True)),
    ).where(
        FileRecord.tenant_id == tenant_id,
        FileRecord.owner_id == from_user,
        FileRecord.deleted_at.is_(None),
    )
    await db.execute(
        insert(FileTransfer)
        .from_select(["tenant_id", "file_id", "transfer_key", "from_user_id", "to_user_id"], owned)
        .on_conflict_do_nothing()
    )
    recorded = select(FileTransfer.file_id).where(
        FileTransfer.tenant_id == tenant_id,
        FileTransfer.transfer_key == key,
        FileTransfer.restored_at.is_(None),
    )
    await db.execute(
        update(FileRecord)
        .where(
            FileRecord.tenant_id == tenant_id,
            FileRecord.owner_id == from_user,
            FileRecord.id.in_(recorded),
        )
        .values(owner_id=to_user)
    )
    count = select(func.count()).where(
        FileTransfer.tenant_id == tenant_id, FileTransfer.transfer_key == key
    )
    return int(await db.scalar(count) or 0)


async def pending_transfers(db: DbSession, from_user: uuid.UUID) -> dict[uuid.UUID, list[str]]:
    """The tenants and run keys of ``from_user``'s transfers not yet restored (the own-rows
    policy: a transaction acting as that user, in no tenant)."""
    rows = await db.execute(
        select(FileTransfer.tenant_id, FileTransfer.transfer_key)
        .where(FileTransfer.from_user_id == from_user, FileTransfer.restored_at.is_(None))
        .distinct()
    )
    found: dict[uuid.UUID, list[str]] = {}
    for tenant_id, key in rows:
        found.setdefault(tenant_id, []).append(key)
    return found


async def restore_files(
    db: DbSession, tenant_id: uuid.UUID, from_user: uuid.UUID, keys: list[str]
) -> int:
    """Move back to ``from_user`` the files ``keys`` moved in the tenant and their new owner
    still owns (a file passed on since stays where it is); every such record is marked
    restored. Answers how many files came back."""
    records = (
        FileTransfer.tenant_id == tenant_id,
        FileTransfer.from_user_id == from_user,
        FileTransfer.transfer_key.in_(keys),
        FileTransfer.restored_at.is_(None),
    )
    moved = await db.execute(
        update(FileRecord)
        .where(
            FileRecord.tenant_id == tenant_id,
            FileRecord.id == FileTransfer.file_id,
            FileRecord.owner_id == FileTransfer.to_user_id,
            *records,
        )
        .values(owner_id=from_user)
        .returning(FileRecord.id)
    )
    back = len(moved.all())
    await db.execute(update(FileTransfer).where(*records).values(restored_at=func.now()))
    return back
