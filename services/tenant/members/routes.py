"""The member list over HTTP. Direct (no workflow): a read of this service's own rows.
Cursor pagination in a stable order (``joined_at``, then id): a cursor is opaque to clients."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.tenant_db import TenantDb
from services.tenant.access import require_permission
from services.tenant.errors import tenant_error
from services.tenant.schemas import MemberOut, MemberPage, RoleName
from storage.tenants.models import Membership, MembershipStatus
from storage.tenants.repository import MEMBER_PAGE_MAX, MemberCursor, MembershipRepository
from workflows.tenant.contracts import TenantError
from workflows.tenant.permissions import Permission

Responses = dict[int | str, dict[str, Any]]
router = APIRouter(prefix="/tenants/{tenant_id}/members", tags=["members"])

REFUSED: Responses = {
    403: problem_response(403, "A token for another tenant, or no users.read permission"),
    404: problem_response(404, "No such tenant, or the caller is not a member"),
}


def member_out(row: Membership) -> MemberOut:
    return MemberOut(
        user_id=row.user_id,
        role=row.role,
        status=row.status,
        joined_at=row.joined_at,
        display_name=row.display_name,
        email=row.email,
        cursor=MemberCursor(row.joined_at, row.id).encode(),
    )


@router.get("", responses=REFUSED)
async def list_members(
    tenant_id: uuid.UUID,
    principal: PrincipalDep,
    db: TenantDb,
    first: Annotated[int, Query(ge=1, le=MEMBER_PAGE_MAX)] = 50,
    after: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    role: Annotated[RoleName | None, Query()] = None,
    status: Annotated[MembershipStatus | None, Query()] = None,
) -> MemberPage:
    """Members in the order they joined (``users.read``); ``after`` is a page's
    ``next_cursor``."""
    await require_permission(db, principal, tenant_id, Permission.USERS_READ, write=False)
    try:
        cursor = MemberCursor.decode(after) if after is not None else None
    except ValueError:
        raise tenant_error(
            TenantError.INVALID_INPUT, "after is not a cursor of this list"
        ) from None
    rows, next_cursor = await MembershipRepository(db, tenant_id).page(
        first=first, after=cursor, role=role, status=status.value if status else None
    )
    return MemberPage(
        items=[member_out(row) for row in rows],
        next_cursor=next_cursor.encode() if next_cursor else None,
    )
