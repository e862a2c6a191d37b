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
    Select,
    Subquery,
    and_,
    cast,
    column,
    delete,
    func,
    literal,
    or_,
    select,
    table,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert

from storage.repository import Repository, TenantScopedRepository
from storage.users.models import DirectoryEntry

DIRECTORY_PAGE_MAX: Final = 100
#: The range of ``pg_trgm.word_similarity_threshold`` (:func:`similarity_threshold`).
MIN_SIMILARITY: Final = 0.3
MAX_SIMILARITY: Final = 0.6
#: Ranks at or above this are prefix matches (a typo-tolerant match ranks below, at most 999).
PREFIX_RANK: Final = 1000
#: Words of a search that must each begin a word of the entry (more are ignored).
MAX_SEARCH_WORDS: Final = 8
#: Prefix ranges end just below ``prefix || U+10FFFF`` (the last code point), in collation "C".
_LAST_CODE_POINT: Final = "\U0010ffff"

#: ``users.directory_words`` (migration ``users_0007``): each entry's lower-cased words, kept by
#: a trigger; read only, so a lightweight table, not a mapped model.
_words = table(
    "directory_words", column("tenant_id"), column("word"), column("user_id"), schema="users"
)


def similarity_threshold(term: str) -> float:
    """The word similarity a typo-tolerant match needs: one letter wrong costs a word of n
    letters (n + 1 trigrams, T in all) three trigrams, for a word similarity near
    (T - 3) / (T + 3) (0.45 for seven letters, 0.57 for ten); so one typo still matches while a
    longer term no longer drags in every member sharing a syllable or a given name; 0.3 up to
    five letters, at most 0.6."""
    trigrams = sum(len(word) + 1 for word in term.split()) or 1
    one_typo = (trigrams - 3) / (trigrams + 3) - 0.02
    return round(min(MAX_SIMILARITY, max(MIN_SIMILARITY, one_typo)), 2)


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
        if not search:
            rows, more = await self._rows(statement, first, after, sort, None)
            return self._page(rows, more, sort, query)
        term = search.lower()
        await self.session.execute(
            text("SELECT set_config('pg_trgm.word_similarity_threshold', :v, true)"),
            {"v": str(similarity_threshold(term))},
        )
        needle = literal(term)
        prefixed = self._prefixed(search)
        in_prefix = DirectoryEntry.user_id.in_(select(prefixed.c.user_id))
        # Only the word-similarity operator on the bare columns filters the typo-tolerant matches
        # (under row-level security PostgreSQL uses an index only for leakproof quals:
        # migration users_0006); prefixes come from the word table's btree (users_0007).
        typo_tolerant = or_(
            needle.op("<%")(DirectoryEntry.name_text), needle.op("<%")(DirectoryEntry.email)
        )
        if sort != DirectorySort.RELEVANCE:
            rows, more = await self._rows(
                statement.where(or_(in_prefix, typo_tolerant)), first, after, sort, None
            )
            return self._page(rows, more, sort, query)
        # Relevance: every prefix match outranks every typo-tolerant one, so a page is the prefix
        # matches' (ranked among themselves) and, only where they run out, the best of the rest:
        # the trigram index is not asked at all while prefix matches fill the page.
        similarity = cast(
            func.greatest(
                func.word_similarity(needle, DirectoryEntry.name_text),
                func.word_similarity(needle, DirectoryEntry.email),
            )
            * 1000,
            Integer,
        )
        rows = []
        if after is None or after.key >= PREFIX_RANK:
            # Ranked by the word table alone (closest completions first), so the page's entries
            # are read in rank order and the scan stops at the page's end.
            ranked = prefixed
            if role is None and status is None:
                # Every prefix match has its entry (the trigger writes both in one transaction):
                # the page is cut from the word table before any entry is read.
                ranked = self._top(prefixed, after, first).subquery("top")
            rows, more = await self._rows(
                statement.join(ranked, ranked.c.user_id == DirectoryEntry.user_id),
                first,
                after,
                sort,
                ranked.c.rank,
                ranked.c.user_id,
            )
            if more:
                return self._page(rows, more, sort, query)
            after = None  # every typo-tolerant match ranks below the last prefix match
        # With the page full of prefix matches already, one row says whether another page is.
        rest, more = await self._rows(
            statement.where(typo_tolerant, ~in_prefix),
            first - len(rows),
            after,
            sort,
            func.least(similarity, PREFIX_RANK - 1),
        )
        return self._page([*rows, *rest], more, sort, query)

    @staticmethod
    def _page(
        rows: list[tuple[DirectoryEntry, Any]], more: bool, sort: DirectorySort, query: str
    ) -> tuple[list[DirectoryEntry], DirectoryCursor | None]:
        cursor = None
        if more and rows:
            last, last_key = rows[-1]
            cursor = DirectoryCursor(sort, last_key, last.user_id, query)
        return [entry for entry, _ in rows], cursor

    def _prefixed(self, search: str) -> Subquery:
        """The members each of whose search words begins one of their words (a range on the
        word table's btree, lower-cased in SQL as the trigger does), with their rank: 1999 for
        a word of theirs spelled exactly as searched, one less for each letter the closest
        completions add (at least ``PREFIX_RANK``)."""
        words = search.split()[:MAX_SEARCH_WORDS] or [search]
        per_word = []
        for index, word in enumerate(words):
            low = func.lower(literal(word))
            per_word.append(
                select(
                    _words.c.user_id,
                    literal(index).label("i"),
                    (func.min(func.length(_words.c.word)) - func.length(low)).label("extra"),
                )
                .where(
                    _words.c.tenant_id == self.tenant_id,
                    _words.c.word >= low.collate("C"),
                    _words.c.word < (low + _LAST_CODE_POINT).collate("C"),
                )
                .group_by(_words.c.user_id)
            )
        matches = union_all(*per_word).subquery() if len(per_word) > 1 else per_word[0].subquery()
        extra = func.least(func.sum(matches.c.extra), PREFIX_RANK - 1)
        return (
            select(
                matches.c.user_id,
                cast(2 * PREFIX_RANK - 1 - extra, Integer).label("rank"),
            )
            .group_by(matches.c.user_id)
            .having(func.count() == len(per_word))
            .subquery("prefixed")
        )

    @staticmethod
    def _top(
        prefixed: Subquery, after: DirectoryCursor | None, first: int
    ) -> Select[tuple[uuid.UUID, int]]:
        """The first ``first`` + 1 prefix matches after ``after`` in rank order."""
        top = select(prefixed.c.user_id, prefixed.c.rank)
        if after is not None:
            top = top.where(
                or_(
                    prefixed.c.rank < after.key,
                    and_(prefixed.c.rank == after.key, prefixed.c.user_id > after.user_id),
                )
            )
        return top.order_by(prefixed.c.rank.desc(), prefixed.c.user_id.asc()).limit(first + 1)

    async def _rows(
        self,
        statement: Select[tuple[DirectoryEntry]],
        first: int,
        after: DirectoryCursor | None,
        sort: DirectorySort,
        rank: ColumnElement[int] | None,
        tie_break: ColumnElement[uuid.UUID] | None = None,
    ) -> tuple[list[tuple[DirectoryEntry, Any]], bool]:
        """Up to ``first`` rows of ``statement`` (with their sort keys) in ``sort`` order after
        ``after``, and whether more follow (``first`` 0 asks only that)."""
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
        user_id = DirectoryEntry.user_id.expression if tie_break is None else tie_break
        if after is not None:
            beyond = key < after.key if descending else key > after.key
            statement = statement.where(
                or_(beyond, and_(key == after.key, user_id > after.user_id))
            )
        ordered = statement.add_columns(key.label("sort_key")).order_by(
            key.desc() if descending else key.asc(), user_id.asc()
        )
        result = await self.session.execute(ordered.limit(max(first, 0) + 1))
        rows: list[tuple[DirectoryEntry, Any]] = [(row[0], row[1]) for row in result.all()]
        return rows[: max(first, 0)], len(rows) > first


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
