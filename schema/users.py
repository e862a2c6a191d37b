"""GraphQL types of users (profiles, preferences and the tenant directory owned by the user
service), built from its response models (``services/user/schemas.py``) field for field."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from schema.errors import BAD_USER_INPUT, UserFacingError
from schema.pagination import PageInfo
from services.user.schemas import (
    ChecklistEntryOut,
    ChecklistOut,
    DirectoryMemberOut,
    PreferencesOut,
    ProfileOut,
    UserProfileOut,
)


def checked_id(raw: str, what: str) -> str:
    """An id argument checked before it becomes part of a path (as ``schema/tenants.py``'s
    ``uuid_arg``): a hostile one is a ``BAD_USER_INPUT`` that does not echo it."""
    if len(raw) <= 64:
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            pass
    raise UserFacingError(f"not a valid {what} (expected a UUID)", BAD_USER_INPUT)


@strawberry.type(description="A user's profile (owned by the user service).")
class User:
    id: strawberry.ID
    email: str
    display_name: str
    created_at: datetime

    @classmethod
    def of(cls, row: ProfileOut) -> User:
        return cls(**{**row.model_dump(), "id": strawberry.ID(str(row.id))})


@strawberry.experimental.pydantic.type(model=UserProfileOut, all_fields=True)
class UserProfile:
    """A whole profile: the user service's ``UserProfileOut`` (oneself, or a member of your
    active tenant when you hold ``users.read``)."""

    id: strawberry.ID
    avatar_file_id: strawberry.ID | None


@strawberry.experimental.pydantic.type(model=PreferencesOut, all_fields=True)
class Preferences:
    """The user service's ``PreferencesOut``: ``values`` are the effective preferences (the
    schema's defaults with ``stored`` over them); the schema is ``GET /users/preferences/schema``
    of the user service, version ``schemaVersion``."""

    tenant_id: strawberry.ID | None
    values: JSON
    stored: JSON


@strawberry.experimental.pydantic.type(model=DirectoryMemberOut, all_fields=True)
class DirectoryMember:
    """A member of the tenant directory (the user service's ``DirectoryMemberOut``)."""

    user_id: strawberry.ID


def profile_of(row: UserProfileOut) -> UserProfile:
    # (a pydantic type keeps no methods of its own: these builders live beside it)
    return UserProfile(**row.model_dump())


def preferences_of(row: PreferencesOut) -> Preferences:
    return Preferences(**row.model_dump())


@strawberry.experimental.pydantic.type(model=ChecklistEntryOut, all_fields=True)
class ChecklistEntry:
    """One item of the profile-completion checklist (``set_password``, ``name``, ``locale``,
    ``time_zone``, ``avatar``) and whether it is done."""


@strawberry.experimental.pydantic.type(model=ChecklistOut, all_fields=True)
class Checklist:
    """The user service's ``ChecklistOut``: your checklist in your active tenant, stored by the
    first-run set-up (``user_first_run``) and ticked as your profile is completed."""

    tenant_id: strawberry.ID
    items: list[ChecklistEntry]


def checklist_of(row: ChecklistOut) -> Checklist:
    fields = row.model_dump()
    fields["tenant_id"] = strawberry.ID(str(row.tenant_id))
    fields["items"] = [ChecklistEntry(**i.model_dump()) for i in row.items]
    return Checklist(**fields)


def directory_member_of(row: DirectoryMemberOut) -> DirectoryMember:
    return DirectoryMember(**row.model_dump())


@strawberry.type
class DirectoryEdge:
    cursor: str
    node: DirectoryMember


@strawberry.type(description="A page of the tenant directory.")
class DirectoryConnection:
    edges: list[DirectoryEdge]
    page_info: PageInfo


@strawberry.input(
    description="A change of one's profile: only the fields given change, null clears an "
    "optional one (displayName cannot be cleared). The user service checks each field's rule."
)
class UpdateProfileInput:
    display_name: str | None = strawberry.UNSET
    given_name: str | None = strawberry.UNSET
    family_name: str | None = strawberry.UNSET
    avatar_file_id: strawberry.ID | None = strawberry.UNSET
    locale: str | None = strawberry.UNSET
    time_zone: str | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
