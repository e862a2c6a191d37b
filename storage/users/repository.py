"""Profile repository."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from storage.repository import Repository
from storage.users.models import Profile

#: The columns a profile change may write (the e-mail address is auth's, the id nobody's).
EDITABLE: Final = frozenset(
    {
        "display_name",
        "given_name",
        "family_name",
        "avatar_file_id",
        "locale",
        "time_zone",
        "title",
        "phone",
        "status",
    }
)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: A write's new ``updated_at``: the clock when the row is written (after its lock), and never
#: less than one microsecond past the previous one, so it strictly increases per profile even
#: when transactions commit out of their start order or the clock steps back.
_BUMPED = func.greatest(
    func.clock_timestamp(), Profile.updated_at + text("interval '1 microsecond'")
)


def profile_version(row: Profile) -> int:
    """The profile's version (``user_profile_sync``): its ``updated_at`` in microseconds."""
    return (row.updated_at - _EPOCH) // timedelta(microseconds=1)


class ProfileRepository(Repository[Profile]):
    model = Profile

    async def create(
        self, *, id_: uuid.UUID, email: str, display_name: str, idempotency_key: str
    ) -> bool:
        """Insert once; returns False when this idempotency key (or id) already wrote it."""
        inserted = await self.session.scalar(
            insert(Profile)
            .values(id=id_, email=email, display_name=display_name, idempotency_key=idempotency_key)
            .on_conflict_do_nothing()
            .returning(Profile.id)
        )
        return inserted is not None

    async def get_many(self, ids: Sequence[uuid.UUID]) -> list[Profile]:
        result = await self.session.scalars(select(Profile).where(Profile.id.in_(ids)))
        return list(result)

    async def update(self, id_: uuid.UUID, changes: Mapping[str, Any]) -> Profile | None:
        """Write ``changes`` (columns of :data:`EDITABLE`; a None clears an optional one) and
        return the row as it is now (None: no such profile)."""
        unknown = set(changes) - EDITABLE
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        if changes:
            await self.session.execute(
                update(Profile)
                .where(Profile.id == id_)
                .values(**changes, updated_at=_BUMPED)
                .execution_options(synchronize_session=False)
            )
        row = await self.session.scalar(
            select(Profile).where(Profile.id == id_).execution_options(populate_existing=True)
        )
        return row

    async def locked(self, id_: uuid.UUID) -> Profile | None:
        """The row as committed, share-locked until the transaction ends (a change waits), so
        what is copied from it cannot be overtaken by an older copy."""
        return await self.session.scalar(
            select(Profile)
            .where(Profile.id == id_)
            .with_for_update(read=True)
            .execution_options(populate_existing=True)
        )

    async def set_status(self, id_: uuid.UUID, status: str) -> str | None:
        """Set the profile's status (the row locked); the status before (None: no profile)."""
        previous = await self.session.scalar(
            select(Profile.status).where(Profile.id == id_).with_for_update()
        )
        if previous is not None and previous != status:
            await self.session.execute(
                update(Profile)
                .where(Profile.id == id_)
                .values(status=status, updated_at=_BUMPED)
                .execution_options(synchronize_session=False)
            )
        return previous

    async def delete(self, id_: uuid.UUID) -> bool:
        """Remove a profile (an abandoned sign-up); deleting a missing one is a no-op."""
        result = await self.session.execute(delete(Profile).where(Profile.id == id_))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def idempotency_key(self, id_: uuid.UUID) -> str | None:
        """The key of the step that created the profile (None: no such profile)."""
        return await self.session.scalar(select(Profile.idempotency_key).where(Profile.id == id_))
