"""SCIM ``Users`` of one tenant, read from the user service's own rows: the directory copy
(membership, role, status) joined with the profiles and with what SCIM keeps of each member
beyond them (``users.scim_users``: ``externalId``, the other attributes).

A SCIM filter arrives parsed (``scim2_models``' syntax tree, never a string) and is translated
here into SQLAlchemy expressions over a fixed table of attributes: values are bound parameters,
``co``/``sw``/``ew`` escape the ``LIKE`` wildcards, and anything outside the table (another
attribute, a type the attribute cannot take, a value path but ``emails[value ...]``) is an
``UnsupportedFilterError`` before any SQL exists."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    false,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.users.models import DirectoryEntry, Profile, ScimUserRecord

USER_URN: Final = "urn:ietf:params:scim:schemas:core:2.0:User"
#: At most this many comparisons in one filter.
MAX_FILTER_TERMS: Final = 50


class UnsupportedFilterError(ValueError):
    """The filter names an attribute, operator or value this endpoint does not filter on."""


class Kind(Enum):
    TEXT = "text"  # caseExact false: compared lower-cased
    EXACT = "exact"  # caseExact true (``externalId``): compared as written
    ID = "id"  # a UUID, caseExact
    BOOLEAN = "boolean"


def _active() -> ColumnElement[bool]:
    return and_(
        DirectoryEntry.status == "active",
        func.coalesce(Profile.status, "active") == "active",
    )


@dataclass(frozen=True)
class Attribute:
    kind: Kind
    column: Callable[[], ColumnElement[Any]] | None


#: Lower-cased attribute path -> how it is read.
ATTRIBUTES: Final[dict[str, Attribute]] = {
    "id": Attribute(Kind.ID, lambda: DirectoryEntry.user_id.expression),
    "username": Attribute(Kind.TEXT, lambda: DirectoryEntry.email.expression),
    "emails": Attribute(Kind.TEXT, lambda: DirectoryEntry.email.expression),
    "emails.value": Attribute(Kind.TEXT, lambda: DirectoryEntry.email.expression),
    "displayname": Attribute(Kind.TEXT, lambda: DirectoryEntry.display_name.expression),
    "name.givenname": Attribute(Kind.TEXT, lambda: Profile.given_name.expression),
    "name.familyname": Attribute(Kind.TEXT, lambda: Profile.family_name.expression),
    "active": Attribute(Kind.BOOLEAN, _active),
    "externalid": Attribute(Kind.EXACT, lambda: ScimUserRecord.external_id.expression),
}

#: ``sortBy`` (lower-cased) -> sort key.
SORT_KEYS: Final[dict[str, Callable[[], ColumnElement[Any]]]] = {
    "id": lambda: DirectoryEntry.user_id.expression,
    "username": lambda: DirectoryEntry.email.expression,
    "emails": lambda: DirectoryEntry.email.expression,
    "emails.value": lambda: DirectoryEntry.email.expression,
    "displayname": lambda: func.lower(DirectoryEntry.display_name),
    "name.givenname": lambda: func.lower(Profile.given_name),
    "name.familyname": lambda: func.lower(Profile.family_name),
    "meta.created": lambda: DirectoryEntry.joined_at.expression,
    "externalid": lambda: ScimUserRecord.external_id.expression,
}


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def attribute_key(path: AttrPath, prefix: str | None = None) -> str:
    if path.uri is not None and path.uri.lower() != USER_URN.lower():
        raise UnsupportedFilterError(f"attributes of {path.uri} are not filterable")
    parts = [p for p in (prefix, path.attr, path.sub_attr) if p]
    return ".".join(parts).lower()


def sort_key(sort_by: str) -> Callable[[], ColumnElement[Any]] | None:
    name = sort_by
    if name.lower().startswith(USER_URN.lower() + ":"):
        name = name[len(USER_URN) + 1 :]
    return SORT_KEYS.get(name.lower())


class _ToSql(FilterVisitor[ColumnElement[bool]]):
    def __init__(self) -> None:
        self.terms = 0
        self.prefix: str | None = None

    def _attribute(self, path: AttrPath) -> tuple[str, Attribute]:
        key = attribute_key(path, self.prefix)
        found = ATTRIBUTES.get(key)
        if found is None:
            raise UnsupportedFilterError(f"{path} is not a filterable attribute")
        return key, found

    def _count(self) -> None:
        self.terms += 1
        if self.terms > MAX_FILTER_TERMS:
            raise UnsupportedFilterError(f"a filter has at most {MAX_FILTER_TERMS} comparisons")

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        self._count()
        key, attribute = self._attribute(node.attr_path)
        op, value = node.op, node.value
        if attribute.kind == Kind.BOOLEAN:
            if not isinstance(value, bool) or op not in (CompareOperator.eq, CompareOperator.ne):
                raise UnsupportedFilterError(f"{key} takes eq or ne with true or false")
            assert attribute.column is not None
            matches = attribute.column() if value else not_(attribute.column())
            return matches if op == CompareOperator.eq else not_(matches)
        if not isinstance(value, str):
            raise UnsupportedFilterError(f"{key} is compared with a string")
        assert attribute.column is not None
        if attribute.kind == Kind.ID:
            if op not in (CompareOperator.eq, CompareOperator.ne):
                raise UnsupportedFilterError("id takes eq or ne")
            try:
                wanted = uuid.UUID(value)
            except ValueError:
                return false() if op == CompareOperator.eq else true()
            column = attribute.column()
            return column == wanted if op == CompareOperator.eq else column != wanted
        if attribute.kind == Kind.EXACT:
            column, needle = attribute.column(), value
        else:
            column, needle = func.lower(attribute.column()), value.lower()
        compared: ColumnElement[bool]
        if op == CompareOperator.eq:
            compared = column == needle
        elif op == CompareOperator.ne:
            compared = column != needle
        elif op == CompareOperator.co:
            compared = column.like(f"%{_like_escape(needle)}%", escape="\\")
        elif op == CompareOperator.sw:
            compared = column.like(f"{_like_escape(needle)}%", escape="\\")
        elif op == CompareOperator.ew:
            compared = column.like(f"%{_like_escape(needle)}", escape="\\")
        elif op == CompareOperator.gt:
            compared = column > needle
        elif op == CompareOperator.ge:
            compared = column >= needle
        elif op == CompareOperator.lt:
            compared = column < needle
        else:
            compared = column <= needle
        # Three-valued logic stays out of it: an absent value matches no comparison.
        return func.coalesce(compared, False)

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        self._count()
        _, attribute = self._attribute(node.attr_path)
        if attribute.kind in (Kind.BOOLEAN, Kind.ID):
            return true()
        assert attribute.column is not None
        column = attribute.column()
        return and_(column.is_not(None), column != "")

    def visit_not(self, node: Not) -> ColumnElement[bool]:
        return not_(self.visit(node.expr))

    def visit_logical_expr(self, node: LogicalExpr) -> ColumnElement[bool]:
        terms = [self.visit(term) for term in node.terms]
        return and_(*terms) if node.op == LogicalOperator.and_ else or_(*terms)

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        if self.prefix is not None or attribute_key(node.attr_path) != "emails":
            raise UnsupportedFilterError("only emails[value ...] selects values")
        self.prefix = "emails"
        try:
            return self.visit(node.val_filter)
        finally:
            self.prefix = None


def filter_clause(node: FilterNode) -> ColumnElement[bool]:
    """The SQL condition of a parsed SCIM filter (``UnsupportedFilterError`` if it cannot be)."""
    return _ToSql().visit(node)


#: The largest page a request gets (a larger ``count`` is read as this).
SCIM_PAGE_MAX: Final = 200
#: A member, their profile, and what SCIM keeps of them beyond it.
ScimUserRow = tuple[DirectoryEntry, Profile | None, ScimUserRecord | None]


class ScimUsers:
    """The tenant's members as SCIM reads them; the transaction is the caller's (RLS bound to
    ``tenant_id`` too)."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    def _statement(self) -> Select[DirectoryEntry, Profile, ScimUserRecord]:
        return (
            select(DirectoryEntry, Profile, ScimUserRecord)
            .outerjoin(Profile, Profile.id == DirectoryEntry.user_id)
            .outerjoin(
                ScimUserRecord,
                and_(
                    ScimUserRecord.tenant_id == DirectoryEntry.tenant_id,
                    ScimUserRecord.user_id == DirectoryEntry.user_id,
                ),
            )
            .where(DirectoryEntry.tenant_id == self.tenant_id)
        )

    async def one(self, user_id: uuid.UUID) -> ScimUserRow | None:
        row = (
            await self.session.execute(self._statement().where(DirectoryEntry.user_id == user_id))
        ).first()
        return (row[0], row[1], row[2]) if row else None

    async def by_email(self, email: str) -> ScimUserRow | None:
        """The member of this tenant with that address (compared lower-cased)."""
        statement = self._statement().where(func.lower(DirectoryEntry.email) == email.lower())
        row = (await self.session.execute(statement.limit(1))).first()
        return (row[0], row[1], row[2]) if row else None

    async def page(
        self,
        *,
        where: FilterNode | None,
        sort_by: str | None,
        descending: bool,
        start_index: int,
        count: int,
    ) -> tuple[int, list[ScimUserRow]]:
        """The total matching ``where`` and the page from ``start_index`` (1-based) of at most
        ``count`` (bounded by ``SCIM_PAGE_MAX``). ``UnsupportedFilterError`` for a filter or a
        ``sort_by`` outside the table."""
        statement = self._statement()
        if where is not None:
            statement = statement.where(filter_clause(where))
        key = DirectoryEntry.user_id.expression
        if sort_by is not None:
            found = sort_key(sort_by)
            if found is None:
                raise UnsupportedFilterError(f"{sort_by} is not a sortable attribute")
            key = found()
        total = await self.session.scalar(
            select(func.count()).select_from(statement.order_by(None).subquery())
        )
        count = max(0, min(count, SCIM_PAGE_MAX))
        if count == 0:
            return int(total or 0), []
        ordered = statement.order_by(
            key.desc().nulls_last() if descending else key.asc().nulls_last(),
            DirectoryEntry.user_id.asc(),
        )
        result = await self.session.execute(ordered.offset(max(0, start_index - 1)).limit(count))
        return int(total or 0), [(row[0], row[1], row[2]) for row in result.all()]

    async def roles(self) -> list[str]:
        """The roles the directory copy knows in this tenant (built-in or custom)."""
        result = await self.session.scalars(
            select(DirectoryEntry.role).where(DirectoryEntry.tenant_id == self.tenant_id).distinct()
        )
        return sorted(result)

    async def members_of(self, roles: list[str]) -> list[DirectoryEntry]:
        result = await self.session.scalars(
            select(DirectoryEntry)
            .where(DirectoryEntry.tenant_id == self.tenant_id, DirectoryEntry.role.in_(roles))
            .order_by(DirectoryEntry.user_id)
        )
        return list(result)
