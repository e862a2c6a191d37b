"""The SCIM resources this service serves, built with ``scim2-models`` from its own rows:
``User`` (a member of the token's tenant: the directory copy joined with the profile) and
``Group`` (one per tenant role), and the discovery documents, which say only what is true."""

from __future__ import annotations

import uuid
from typing import Any, Final

from pydantic import ValidationError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Email,
    ETag,
    Filter,
    Group,
    GroupMember,
    GroupMembership,
    Meta,
    Name,
    Pagination,
    Patch,
    PhoneNumber,
    ResourceType,
    Schema,
    ServiceProviderConfig,
    Sort,
    User,
)

from services.user.scim.extras import with_record
from storage.users.models import DirectoryEntry, Profile, ScimGroupRecord, ScimUserRecord
from storage.users.scim_directory import SCIM_PAGE_MAX
from workflows.tenant.permissions import BuiltInRole

BASE_PATH: Final = "/scim/v2"
#: Group ids: stable per tenant and role, different in every tenant.
GROUP_NAMESPACE: Final = uuid.UUID("6f1b8f5e-2a39-4c1e-9f3e-5c0de5c1a9e2")
BUILT_IN: Final = [role.value for role in BuiltInRole]


def group_id(tenant_id: uuid.UUID, role: str) -> str:
    return str(uuid.uuid5(GROUP_NAMESPACE, f"{tenant_id}:{role}"))


def _emails(email: str) -> list[Email] | None:
    """The profile's address as the primary work e-mail (left out if SCIM's model refuses it:
    auth checked it when it was registered, this must not fail a whole listing)."""
    if not email:
        return None
    try:
        return [Email(value=email, type="work", primary=True)]
    except ValidationError:
        return None


def user_resource(
    base: str,
    tenant_id: uuid.UUID,
    entry: DirectoryEntry,
    profile: Profile | None,
    record: ScimUserRecord | None = None,
) -> User:
    user_id = str(entry.user_id)
    email = (profile.email if profile else "") or entry.email
    given = profile.given_name if profile else None
    family = profile.family_name if profile else None
    modified = max(
        [entry.updated_at]
        + ([profile.updated_at] if profile is not None else [])
        + ([record.updated_at] if record is not None else [])
    )
    active = entry.status == "active" and (profile is None or profile.status == "active")
    user: User[Any] = User(
        id=user_id,
        user_name=email or user_id,
        display_name=entry.display_name or (profile.display_name if profile else None),
        name=Name(given_name=given, family_name=family) if given or family else None,
        emails=_emails(email),
        phone_numbers=(
            [PhoneNumber(value=profile.phone, type="work", primary=True)]
            if profile is not None and profile.phone
            else None
        ),
        title=profile.title if profile else None,
        locale=profile.locale if profile else None,
        timezone=profile.time_zone if profile else None,
        active=active,
        groups=[
            GroupMembership(
                value=group_id(tenant_id, entry.role), display=entry.role, type="direct"
            )
        ],
        meta=Meta(
            resource_type="User",
            created=profile.created_at if profile else entry.joined_at,
            last_modified=modified,
            location=f"{base}/Users/{user_id}",
        ),
    )
    return with_record(user, record)


def group_resource(
    base: str,
    tenant_id: uuid.UUID,
    role: str,
    members: list[DirectoryEntry],
    record: ScimGroupRecord | None = None,
) -> Group:
    gid = group_id(tenant_id, role)
    return Group(
        id=gid,
        external_id=record.external_id if record is not None else None,
        display_name=role,
        members=[
            GroupMember(
                value=str(m.user_id),
                display=m.display_name or None,
                type="User",
                ref=f"{base}/Users/{m.user_id}",
            )
            for m in members
        ]
        or None,
        meta=Meta(resource_type="Group", location=f"{base}/Groups/{gid}"),
    )


def service_provider_config(base: str) -> ServiceProviderConfig:
    """What is supported, truthfully: reads with filter, sort and index pagination; writes
    of Users and Groups (POST, PUT, PATCH, DELETE); no bulk, password change (the password is
    the person's, in auth), ETags (rows keep no version) or ``POST /.search`` (a 501)."""
    return ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=SCIM_PAGE_MAX),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=True),
        etag=ETag(supported=False),
        pagination=Pagination(
            cursor=False, index=True, default_page_size=100, max_page_size=SCIM_PAGE_MAX
        ),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="SCIM bearer token",
                description="A tenant's SCIM token, issued by its admins "
                "(POST /tenants/{tenant_id}/scim-tokens)",
                primary=True,
            )
        ],
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{base}/ServiceProviderConfig"),
    )


def schemas(base: str) -> list[Schema]:
    found = []
    for model in (User, Group):
        schema = model.to_schema()
        schema.meta = Meta(resource_type="Schema", location=f"{base}/Schemas/{schema.id}")
        found.append(schema)
    return found


def resource_types(base: str) -> list[ResourceType]:
    found = []
    for model in (User, Group):
        resource_type = ResourceType.from_resource(model)
        resource_type.meta = Meta(
            resource_type="ResourceType", location=f"{base}/ResourceTypes/{resource_type.id}"
        )
        found.append(resource_type)
    return found
