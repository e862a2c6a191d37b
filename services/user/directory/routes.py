"""The tenant directory over HTTP. Direct (no workflow): a read of this service's own copy of the
caller's active tenant's members (``users.read``).

``GET /directory?search=&role=&status=&sort=&first=&after=``: ``search`` matches names and
addresses by prefix and by trigram similarity (a typo still finds), ``sort`` is ``relevance``
(the default with a search), ``name`` (the default without), ``email``, ``joined_at``, each
descending with a leading ``-``; pages of at most 100 by opaque cursors, tied to the sort and
the query they were made for.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.tenant_db import TenantDb
from services.user.access import require
from services.user.errors import user_error
from services.user.schemas import DirectoryMemberOut, DirectoryPage
from storage.users.directory import (
    DIRECTORY_PAGE_MAX,
    DirectoryCursor,
    DirectoryRepository,
    DirectorySort,
    query_digest,
)
from storage.users.models import DirectoryEntry
from workflows.tenant.permissions import ROLE_NAME, Permission
from workflows.user import rules
from workflows.user.contracts import UserError
from workflows.user.directory_contracts import DirectoryStatus

router = APIRouter(prefix="/directory", tags=["directory"])

SEARCH_MAX = 100
Responses = dict[int | str, dict[str, Any]]
REFUSED: Responses = {
    403: problem_response(403, "No token for a tenant, or no users.read permission"),
    422: problem_response(422, "A bad search, filter, sort or cursor"),
}


def member_out(row: DirectoryEntry) -> DirectoryMemberOut:
    return DirectoryMemberOut(
        user_id=row.user_id,
        display_name=row.display_name,
        email=row.email,
        role=row.role,
        status=row.status,
        joined_at=row.joined_at,
    )


@router.get("", responses=REFUSED)
async def list_directory(
    principal: PrincipalDep,
    db: TenantDb,
    search: Annotated[str | None, Query(min_length=1, max_length=SEARCH_MAX)] = None,
    role: Annotated[
        str | None, Query(min_length=3, max_length=40, pattern=f"^{ROLE_NAME.pattern}$")
    ] = None,
    status: Annotated[DirectoryStatus | None, Query()] = None,
    sort: Annotated[DirectorySort | None, Query()] = None,
    first: Annotated[int, Query(ge=1, le=DIRECTORY_PAGE_MAX)] = 50,
    after: Annotated[str | None, Query(min_length=1, max_length=500)] = None,
) -> DirectoryPage:
    tenant_id = require(principal, Permission.USERS_READ)
    term = None
    if search is not None:
        try:
            term = rules.clean_text(search, "search", SEARCH_MAX)
        except rules.RuleViolation as violation:
            raise user_error(UserError.INVALID_INPUT, violation.message) from None
    order = sort or (DirectorySort.RELEVANCE if term else DirectorySort.NAME)
    if order == DirectorySort.RELEVANCE and term is None:
        raise user_error(UserError.INVALID_INPUT, "sort=relevance needs a search")
    query = query_digest(term, role, status, order)
    cursor = None
    if after is not None:
        try:
            cursor = DirectoryCursor.decode(after)
        except ValueError:
            cursor = None
        if cursor is None or cursor.query != query or cursor.sort != order:
            raise user_error(UserError.INVALID_INPUT, "after is not a cursor of this list")
    rows, next_cursor = await DirectoryRepository(db, tenant_id).page(
        first=first,
        after=cursor,
        search=term,
        role=role,
        status=status.value if status else None,
        sort=order,
        query=query,
    )
    return DirectoryPage(
        items=[member_out(row) for row in rows],
        next_cursor=next_cursor.encode() if next_cursor else None,
    )
