"""The tenant directory (``users.directory``): the user service's copy of a tenant's members,
searched by name and address with ``pg_trgm`` (prefix and typo-tolerant), filtered by role and
status, sorted, paged by opaque keyset cursors."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert

from storage.repository import Repository, TenantScopedRepository
from storage.users.models import DirectoryEntry

DIRECTORY_PAGE_MAX: Final = 100
#: ``pg_trgm.word_similarity_threshold`` of a search: low enough for one typo in a short name.
WORD_SIMILARITY_THRESHOLD: Final = 0.3


class DirectorySort(StrEnum):
    RELEVANCE = "relevance"
    NAME = "name"
    NAME_DESC = "-name"
    EMAIL = "email"
    EMAIL_DESC = "-email"
    JOINED = "joined_at"
    JOINED_DESC = "-joined_at"


def name_text(display_name: str, given_name: str | None, family_name: str | None) -> str:
    """What a name search matches: the display name and the given and family names."""
    return " ".join(p for p in (display_name, given_name, family_name) if p)[:410]


def query_digest(*parts: object) -> str:
    """Ties a cursor to the search and filters it was made for."""
    raw = json.dumps([str(p) if p is not None else None for p in parts])
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class DirectoryCursor:
    """Where a page ended: the sort key's value and the user id (the tie-break), for one sort
    and one query. Opaque to clients (base64url of JSON)."""

    sort: DirectorySort
    key: Any
    user_id: uuid.UUID
    query: str

    def encode(self) -> str:
        key = self.key.isoformat() if isinstance(self.key, datetime) else self.key
        raw = json.dumps({"s": self.sort.value, "k": key, "u": str(self.user_id), "q": self.query})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> DirectoryCursor:
        """ValueError for anything that is not a cursor this module made."""
        try:
            raw = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
            sort = DirectorySort(raw["s"])
            key = raw["k"]
            if sort in (DirectorySort.JOINED, DirectorySort.JOINED_DESC):
                key = datetime.fromisoformat(key)
                if key.tzinfo is None:
                    key = key.replace(tzinfo=UTC)
            elif sort == DirectorySort.RELEVANCE:
                if not isinstance(key, int) or isinstance(key, bool):
                    raise ValueError("bad key")
            elif not isinstance(key, str):
                raise ValueError("bad key")
            query = raw["q"]
            if not isinstance(query, str):
                raise ValueError("bad query")
            return cls(sort, key, uuid.UUID(raw["u"]), query)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
            raise ValueError("not a directory cursor") from error


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class DirectoryRepository(TenantScopedRepository[DirectoryEntry]):
    model = DirectoryEntry

    async def entry(self, user_id: uuid.UUID) -> DirectoryEntry | None:
        return await self.session.scalar(
            self.base_statement().where(DirectoryEntry.user_id == user_id)
        )

    async def members_among(self, user_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        result = await self.session.scalars(
            select(DirectoryEntry.user_id).where(
                DirectoryEntry.tenant_id == self.tenant_id, DirectoryEntry.user_id.in_(user_ids)
            )
        )
        return set(result)

    async def upsert(
        self,
        user_id: uuid.UUID,
        *,
        role: str,
        status: str,
        joined_at: datetime | None,
        display_name: str,
        email: str,
        search_name: str,
    ) -> None:
        """The member as they are now; a repeat writes the same row (``joined_at`` stays the
        first one recorded unless one is given)."""
        statement = insert(DirectoryEntry).values(
            tenant_id=self.tenant_id,
            user_id=user_id,
            role=role,
            status=status,
            joined_at=joined_at or func.now(),
            display_name=display_name,
            email=email,
            name_text=search_name,
        )
        changes: dict[str, Any] = {
            "role": role,
            "status": status,
            "display_name": display_name,
            "email": email,
            "name_text": search_name,
            "updated_at": func.now(),
        }
        if joined_at is not None:
            changes["joined_at"] = joined_at
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=["tenant_id", "user_id"], set_=changes)
        )

    async def remove(self, user_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            delete(DirectoryEntry).where(
                DirectoryEntry.tenant_id == self.tenant_id, DirectoryEntry.user_id == user_id
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def set_status(self, status: str) -> int:
        result = await self.session.execute(
            update(DirectoryEntry)
            .where(DirectoryEntry.tenant_id == self.tenant_id, DirectoryEntry.status != status)
            .values(status=status, updated_at=func.now())
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def erase(self) -> int:
        result = await self.session.execute(
            delete(DirectoryEntry).where(DirectoryEntry.tenant_id == self.tenant_id)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def page(
        self,
        *,
        first: int,
        after: DirectoryCursor | None,
        search: str | None,
        role: str | None,
        status: str | None,
        sort: DirectorySort,
        query: str,
    ) -> tuple[list[DirectoryEntry], DirectoryCursor | None]:
        """One page of members, and the cursor of the next (None on the last page).
        ``query`` is the caller's :func:`query_digest` of the search and filters."""
        first = max(1, min(first, DIRECTORY_PAGE_MAX))
        statement = self.base_statement()
        if role is not None:
            statement = statement.where(DirectoryEntry.role == role)
        if status is not None:
            statement = statement.where(DirectoryEntry.status == status)
        rank: ColumnElement[int] | None = None
        if search:
            await self.session.execute(
                text("SELECT set_config('pg_trgm.word_similarity_threshold', :v, true)"),
                {"v": str(WORD_SIMILARITY_THRESHOLD)},
            )
            term = search.lower()
            name = func.lower(DirectoryEntry.name_text)
            email = func.lower(DirectoryEntry.email)
            prefix = f"{_like_escape(term)}%"
            prefixed = or_(
                name.like(prefix, escape="\\"),
                name.like(f"% {prefix}", escape="\\"),
                email.like(prefix, escape="\\"),
            )
            needle = literal(term)
            # Only the word-similarity operator on the bare columns filters (pg_trgm folds case
            # itself, and a prefix is a close word match): under row-level security PostgreSQL
            # uses an index only for leakproof quals, and LIKE and lower() are not, so any of
            # them in the WHERE clause forces a scan of the tenant's every row (docs/users.md,
            # "Directory benchmark"). The prefix bonus is ranked on the matches alone.
            statement = statement.where(
                or_(
                    needle.op("<%")(DirectoryEntry.name_text),
                    needle.op("<%")(DirectoryEntry.email),
                )
            )
            similarity = func.greatest(
                func.word_similarity(needle, name), func.word_similarity(needle, email)
            )
            rank = cast(similarity * 1000, Integer) + case((prefixed, 1000), else_=0)
        key: ColumnElement[Any]
        descending = sort in (
            DirectorySort.RELEVANCE,
            DirectorySort.NAME_DESC,
            DirectorySort.EMAIL_DESC,
            DirectorySort.JOINED_DESC,
        )
        if sort == DirectorySort.RELEVANCE:
            if rank is None:
                raise ValueError("relevance needs a search")
            key = rank
        elif sort in (DirectorySort.NAME, DirectorySort.NAME_DESC):
            key = func.lower(DirectoryEntry.display_name)
        elif sort in (DirectorySort.EMAIL, DirectorySort.EMAIL_DESC):
            key = DirectoryEntry.email.expression
        else:
            key = DirectoryEntry.joined_at.expression
        if after is not None:
            beyond = key < after.key if descending else key > after.key
            statement = statement.where(
                or_(beyond, and_(key == after.key, DirectoryEntry.user_id > after.user_id))
            )
        ordered = statement.add_columns(key.label("sort_key")).order_by(
            key.desc() if descending else key.asc(), DirectoryEntry.user_id.asc()
        )
        result = await self.session.execute(ordered.limit(first + 1))
        rows: list[tuple[DirectoryEntry, Any]] = [(row[0], row[1]) for row in result.all()]
        more = len(rows) > first
        rows = rows[:first]
        cursor = None
        if more and rows:
            last, last_key = rows[-1]
            cursor = DirectoryCursor(sort, last_key, last.user_id, query)
        return [entry for entry, _ in rows], cursor


class MemberEntries(Repository[DirectoryEntry]):
    """A user's entries across tenants, as far as the transaction reaches: the acting user's own
    entries in every tenant (policies ``own_entries``, ``own_entries_names``), anyone's in the
    transaction's tenant."""

    model = DirectoryEntry

    async def tenants_of(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        """The tenants of ``user_id``'s entries the transaction reaches."""
        rows = await self.session.scalars(
            select(DirectoryEntry.tenant_id)
            .where(DirectoryEntry.user_id == user_id)
            .order_by(DirectoryEntry.tenant_id)
        )
        return list(rows)

    async def refresh_names(
        self, user_id: uuid.UUID, *, display_name: str, email: str, search_name: str
    ) -> int:
        """The profile's names into each of those entries that does not hold them already
        (a repeated refresh changes no row); the number changed."""
        current = tuple_(
            DirectoryEntry.display_name, DirectoryEntry.email, DirectoryEntry.name_text
        )
        result = await self.session.execute(
            update(DirectoryEntry)
            .where(
                DirectoryEntry.user_id == user_id,
                current.is_distinct_from(
                    tuple_(literal(display_name), literal(email), literal(search_name))
                ),
            )
            .values(
                display_name=display_name,
                email=email,
                name_text=search_name,
                updated_at=func.now(),
            )
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
