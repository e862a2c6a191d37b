"""The tenant service's HTTP contract: request and response models, pydantic only. The routes
declare them and the gateway validates the answers it gets with them (and builds its GraphQL
types from them), so the REST and GraphQL shapes cannot drift; nothing here imports the
service's runtime code. The validation rules themselves are ``workflows/tenant/rules.py``, which
the workflows check again on their own input."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from workflows.tenant import rules
from workflows.tenant.permissions import ROLE_NAME, Permission

# -- field types ---------------------------------------------------------------------------------


def _slug(value: str) -> str:
    problem = rules.slug_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _settings(value: dict[str, Any]) -> dict[str, Any]:
    problem = rules.settings_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _domain(value: str) -> str:
    return rules.normalise_domain(value)


#: A tenant's URL name (``rules.slug_problem``: 3-63 characters, reserved words refused).
Slug = Annotated[
    str,
    Field(min_length=rules.SLUG_MIN, max_length=rules.SLUG_MAX, pattern=rules.SLUG_PATTERN),
    AfterValidator(_slug),
]
#: A display name: stripped, 1-200 characters, no control or invisible characters.
TenantName = Annotated[
    str,
    Field(min_length=1, max_length=1000, json_schema_extra={"maxLength": rules.NAME_MAX}),
    AfterValidator(rules.clean_name),
]
#: A tenant's free-form settings: a JSON object, at most 16 KiB and 5 levels deep.
TenantSettings = Annotated[dict[str, Any], AfterValidator(_settings)]
#: A built-in or custom role's name (lower-case words joined by hyphens).
RoleName = Annotated[str, Field(min_length=3, max_length=40, pattern=f"^{ROLE_NAME.pattern}$")]
#: A custom role's description (plain text).
RoleDescription = Annotated[
    str, Field(max_length=500, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")
]
#: An e-mail address (syntax as auth's; normalised to lower case by the service).
Email = Annotated[
    str,
    Field(
        min_length=3,
        max_length=254,
        pattern=r"^[^\s@\x00-\x1f\x7f]+@[^\s@\x00-\x1f\x7f]+$",
        json_schema_extra={"format": "email"},
    ),
]
#: A domain name, returned normalised (IDNA A-labels, lower case, no trailing dot).
#: The schema states the ASCII form; Unicode (IDNA) names are accepted and converted too.
DomainName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1000,
        json_schema_extra={
            "maxLength": rules.DOMAIN_MAX,
            "pattern": r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
            r"[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$",
        },
    ),
    AfterValidator(_domain),
]
#: A mailed invitation token: ``<tenant id as 32 hex>.<secret>`` (services/tenant/invitations).
InvitationToken = Annotated[
    str, Field(min_length=40, max_length=200, pattern=r"^[0-9a-f]{32}\.[A-Za-z0-9_-]{20,160}$")
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- tenants ---------------------------------------------------------------------------------


class TenantOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    status: str
    plan: str
    seat_quota: int
    storage_quota_bytes: int
    settings: dict[str, Any]
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime
    #: The caller's role in this tenant (None for a caller who is not a member, e.g. a service).
    my_role: str | None = None


class CreateTenantRequest(_Strict):
    """``POST /tenants`` (starts ``tenant_provisioning``)."""

    slug: Slug
    name: TenantName
    plan: str = Field("free", max_length=30, pattern=r"^[a-z]+$")


class UpdateTenantRequest(_Strict):
    """``PATCH /tenants/{id}``: what is given changes; ``settings`` replaces the whole object."""

    name: TenantName | None = None
    settings: TenantSettings | None = None


class WorkflowStarted(BaseModel):
    """A route that starts a workflow answers with its id (follow it with ``workflowProgress``)."""

    workflow_id: str


# -- members ---------------------------------------------------------------------------------


class MemberOut(BaseModel):
    user_id: uuid.UUID
    role: str
    status: str
    joined_at: datetime
    #: The member's display name and address, as their profile's last change left them
    #: (``user_profile_sync``); empty until a change was copied.
    display_name: str = ""
    email: str = ""
    #: This member's place in the list: pass as ``after`` for the members after it.
    cursor: str | None = None


class MemberPage(BaseModel):
    items: list[MemberOut]
    #: Pass as ``after`` for the next page; None on the last one.
    next_cursor: str | None = None


class ChangeRoleRequest(_Strict):
    role: RoleName


class TransferOwnershipRequest(_Strict):
    new_owner_id: uuid.UUID


# -- roles -----------------------------------------------------------------------------------


class RoleOut(BaseModel):
    name: str
    description: str
    permissions: list[Permission]
    built_in: bool


class CreateRoleRequest(_Strict):
    name: RoleName
    description: RoleDescription = ""
    #: Catalogue names (``workflows/tenant/permissions.py``); an unknown one is refused by name.
    permissions: list[Annotated[str, Field(max_length=64)]] = Field(max_length=64)


class UpdateRoleRequest(_Strict):
    description: RoleDescription | None = None
    permissions: list[Annotated[str, Field(max_length=64)]] | None = Field(None, max_length=64)


# -- invitations -----------------------------------------------------------------------------


class InvitationOut(BaseModel):
    id: uuid.UUID
    email: str
    role: str
    status: str
    expires_at: datetime
    inviter_id: uuid.UUID
    created_at: datetime


class MyInvitationOut(BaseModel):
    """A pending invitation addressed to the signed-in caller (``GET /invitations/mine``)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_name: str
    role: str
    expires_at: datetime


class CreateInvitationRequest(_Strict):
    email: Email
    role: RoleName = "member"


class InvitationTokenRequest(_Strict):
    """Declining (here) or accepting (the membership workflow) an invitation by its token."""

    token: InvitationToken


# -- domains ---------------------------------------------------------------------------------


class DomainOut(BaseModel):
    domain: str
    status: str
    #: Publish a TXT record named this ...
    txt_record_name: str
    #: ... with this value, then ask for verification.
    txt_record_value: str
    verified_at: datetime | None
    auto_join_role: str | None


class AddDomainRequest(_Strict):
    domain: DomainName


class AutoJoinRequest(_Strict):
    """The role users with a verified address of the domain join with; None turns it off."""

    role: RoleName | None
