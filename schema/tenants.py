"""GraphQL types of tenants, members, invitations and switching, built from the tenant service's
response models (``services/tenant/schemas.py``) and auth's ``TenantSwitch`` field for field."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from schema.errors import BAD_USER_INPUT, UserFacingError
from schema.pagination import MAX_CURSOR, MAX_PAGE, PageInfo, check_first
from schema.users import User
from services.auth.schemas import TenantSwitch as TenantSwitchOut
from services.tenant.schemas import InvitationOut, MemberOut, MemberPage, TenantOut


def uuid_arg(raw: str, what: str) -> str:
    """An id argument checked before it becomes part of a path: a hostile one is a
    ``BAD_USER_INPUT`` and never reaches the service (nor opens its circuit)."""
    if len(raw) <= 64:
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            pass
    raise UserFacingError(f"not a valid {what}", BAD_USER_INPUT)


async def member_connection(
    info: strawberry.Info, tenant_id: str, first: int, after: str | None
) -> MemberConnection:
    """A page of ``tenant_id``'s members through the request's ``member_pages`` loader (the
    same page asked for twice in one operation is read once)."""
    check_first(first)
    if after is not None and not 0 < len(after) <= MAX_CURSOR:
        raise UserFacingError("after is not a cursor of this list", BAD_USER_INPUT)
    key = (uuid_arg(tenant_id, "tenant id"), first, after)  # gateway/loaders.py MemberPageKey
    page: MemberPage = await info.context.member_pages.load(key)
    edges = [
        MemberEdge(cursor=m.cursor or "", node=Member(**m.model_dump(exclude={"cursor"})))
        for m in page.items
    ]
    return MemberConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.next_cursor is not None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


@strawberry.experimental.pydantic.type(model=MemberOut)
class Member:
    """The tenant service's ``MemberOut`` (its cursor is the edge's)."""

    user_id: strawberry.ID
    role: strawberry.auto
    status: strawberry.auto
    joined_at: strawberry.auto
    display_name: strawberry.auto
    email: strawberry.auto

    @strawberry.field(
        description="The member's profile, from the user service (batched: one read for every "
        "profile of the answer); null where the user service shows you none (today: only your "
        "own, services.common.principal.may_read_profile)."
    )
    async def user(self, info: strawberry.Info) -> User | None:
        row = await info.context.users.load(str(self.user_id))
        return None if row is None else User.of(row)


@strawberry.type
class MemberEdge:
    cursor: str
    node: Member


@strawberry.type(description="A page of a tenant's members, in the order they joined.")
class MemberConnection:
    edges: list[MemberEdge]
    page_info: PageInfo


@strawberry.experimental.pydantic.type(model=TenantOut, all_fields=True)
class Tenant:
    """The tenant service's ``TenantOut``; ``myRole`` is the caller's role in it."""

    id: strawberry.ID
    settings: JSON
    created_by: strawberry.ID

    @strawberry.field(description="This tenant's members (needs users.read in it).")
    async def members(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description=f"1-{MAX_PAGE}")] = 50,
        after: str | None = None,
    ) -> MemberConnection:
        return await member_connection(info, str(self.id), first, after)


@strawberry.experimental.pydantic.type(model=InvitationOut, all_fields=True)
class Invitation:
    """The tenant service's ``InvitationOut``."""

    id: strawberry.ID
    inviter_id: strawberry.ID


@strawberry.experimental.pydantic.type(model=TenantSwitchOut, all_fields=True)
class TenantSwitch:
    """The session is in ``tenantId`` now: a new access token (the refresh token you hold stays
    valid and yields tokens for this tenant); ``workflowId`` is the bookkeeping run
    (``tenant_switching``), which your session may follow with ``workflowProgress``."""

    tenant_id: strawberry.ID
    workflow_id: strawberry.ID | None


@strawberry.input(description="Create a tenant (starts `tenant_provisioning`).")
class CreateTenantInput:
    slug: str = strawberry.field(description="3-63 characters: lower-case letters, digits, '-'.")
    name: str
    plan: str = "free"


@strawberry.input(description="Invite someone to a tenant by e-mail.")
class InviteMemberInput:
    tenant_id: strawberry.ID
    email: str
    role: str = "member"
