"""GraphQL types of tenants, members, invitations and switching, built from the tenant service's
response models (``services/tenant/schemas.py``) and auth's ``TenantSwitch`` field for field."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from services.auth.schemas import TenantSwitch as TenantSwitchOut
from services.tenant.schemas import InvitationOut, MemberOut, TenantOut


@strawberry.experimental.pydantic.type(model=TenantOut, all_fields=True)
class Tenant:
    """The tenant service's ``TenantOut``; ``myRole`` is the caller's role in it."""

    id: strawberry.ID
    settings: JSON
    created_by: strawberry.ID


@strawberry.experimental.pydantic.type(model=MemberOut)
class Member:
    """The tenant service's ``MemberOut`` (its cursor is the edge's)."""

    user_id: strawberry.ID
    role: strawberry.auto
    status: strawberry.auto
    joined_at: strawberry.auto


@strawberry.type
class MemberEdge:
    cursor: str
    node: Member


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="A page of a tenant's members, in the order they joined.")
class MemberConnection:
    edges: list[MemberEdge]
    page_info: PageInfo


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
