"""The user service's HTTP contract: request and response models, pydantic only. The routes
declare them and the gateway validates the answers it gets with them, so the REST and GraphQL
shapes cannot drift; nothing here imports the service's runtime code. The validation rules
themselves are ``workflows/user/rules.py``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from workflows.user import rules

# -- field types ---------------------------------------------------------------------------------

#: Longest raw input a text field takes before its rule runs (the rule's bound is stricter).
_RAW_MAX = 1000


DisplayName = Annotated[
    str,
    Field(
        min_length=1, max_length=_RAW_MAX, json_schema_extra={"maxLength": rules.DISPLAY_NAME_MAX}
    ),
    AfterValidator(rules.clean_display_name),
]
GivenName = Annotated[
    str,
    Field(min_length=1, max_length=_RAW_MAX, json_schema_extra={"maxLength": rules.NAME_MAX}),
    AfterValidator(rules.clean_given_name),
]
FamilyName = Annotated[
    str,
    Field(min_length=1, max_length=_RAW_MAX, json_schema_extra={"maxLength": rules.NAME_MAX}),
    AfterValidator(rules.clean_family_name),
]
Title = Annotated[
    str,
    Field(min_length=1, max_length=_RAW_MAX, json_schema_extra={"maxLength": rules.TITLE_MAX}),
    AfterValidator(rules.clean_title),
]
#: A BCP 47 tag of a known language, returned in canonical case (``de-CH``).
Locale = Annotated[
    str,
    Field(
        min_length=2,
        max_length=rules.LOCALE_MAX,
        pattern=rules.LOCALE_PATTERN,
        json_schema_extra={"pattern": rules.KNOWN_LOCALE_PATTERN},
    ),
    AfterValidator(rules.clean_locale),
]
#: An IANA time zone name (``Europe/Zurich``).
TimeZone = Annotated[
    str,
    Field(
        min_length=1,
        max_length=rules.TIME_ZONE_MAX,
        json_schema_extra={"enum": sorted(rules.known_time_zones())},
    ),
    AfterValidator(rules.clean_time_zone),
]
#: An international number, stored in E.164 (``+41446681800``).
Phone = Annotated[
    str,
    Field(min_length=5, max_length=rules.PHONE_MAX_INPUT, pattern=r"^\+[0-9 ().-]{4,30}$"),
    AfterValidator(rules.clean_phone),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- profiles ------------------------------------------------------------------------------------


class ProfileOut(BaseModel):
    """The profile fields the gateway shows (``user(id)``, the ``load_users`` batch)."""

    id: uuid.UUID
    email: str
    display_name: str
    created_at: datetime


class UserProfileOut(ProfileOut):
    """A whole profile (``/users/me``, and an admin's read of a member)."""

    given_name: str | None = None
    family_name: str | None = None
    avatar_file_id: uuid.UUID | None = None
    locale: str | None = None
    time_zone: str | None = None
    title: str | None = None
    phone: str | None = None
    status: str = "active"
    updated_at: datetime | None = None


class UpdateProfileRequest(_Strict):
    """``PATCH /users/me`` and ``PATCH /users/{id}``: only the fields given change; ``null``
    clears an optional one. The e-mail address is the auth service's."""

    display_name: DisplayName | None = None
    given_name: GivenName | None = None
    family_name: FamilyName | None = None
    avatar_file_id: uuid.UUID | None = None
    locale: Locale | None = None
    time_zone: TimeZone | None = None
    title: Title | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def _display_name_stays(self) -> UpdateProfileRequest:
        if "display_name" in self.model_fields_set and self.display_name is None:
            raise ValueError("display_name cannot be cleared")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields given, as column values."""
        return {name: getattr(self, name) for name in self.model_fields_set}


# -- preferences ---------------------------------------------------------------------------------


class PreferencesOut(BaseModel):
    """A user's preferences: ``values`` with the schema's defaults filled in, ``stored`` what
    was set; ``schema_version`` the published schema they follow
    (``GET /users/preferences/schema``)."""

    scope: str
    tenant_id: uuid.UUID | None = None
    schema_version: int
    values: dict[str, Any]
    stored: dict[str, Any]
    updated_at: datetime | None = None


# -- first run (services/user/first_run/) -------------------------------------------------------


class ChecklistEntryOut(BaseModel):
    #: ``set_password``, ``name``, ``locale``, ``time_zone``, ``avatar`` (in display order).
    item: str
    done: bool


class ChecklistOut(BaseModel):
    """The caller's profile-completion checklist in their active tenant (``user_first_run``)."""

    tenant_id: uuid.UUID
    items: list[ChecklistEntryOut]
    #: Every item done.
    complete: bool
    welcome_sent_at: datetime | None = None


# -- directory -----------------------------------------------------------------------------------


class DirectoryMemberOut(BaseModel):
    user_id: uuid.UUID
    display_name: str
    email: str
    role: str
    status: str
    joined_at: datetime


class DirectoryPage(BaseModel):
    items: list[DirectoryMemberOut]
    #: Pass as ``after`` for the next page; None on the last one.
    next_cursor: str | None = None


# -- SCIM tokens (services/user/scim/) -----------------------------------------------------------


class CreateScimTokenRequest(BaseModel):
    #: What the token is for, e.g. the identity provider's name.
    name: str = Field(min_length=1, max_length=100)


class ScimTokenOut(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    created_by: uuid.UUID
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class ScimTokenIssued(ScimTokenOut):
    """The token itself is in this answer only; the service keeps its SHA-256 digest."""

    token: str


# -- deactivation (services/user/accounts/) -------------------------------------------------------


class DeactivateUserRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: ``keep`` (default): the files stay the user's; ``transfer``: to ``transfer_to``. (The
    #: file service keeps no per-user files yet: nothing moves either way.)
    file_policy: str = Field("keep", pattern="^(keep|transfer)$")
    transfer_to: uuid.UUID | None = None

    @model_validator(mode="after")
    def _transfer_needs_owner(self) -> DeactivateUserRequest:
        if self.file_policy == "transfer" and self.transfer_to is None:
            raise ValueError("transfer_to is required with file_policy transfer")
        return self


class UserWorkflowStarted(BaseModel):
    """A route that starts a workflow answers with its id (follow it with ``workflowProgress``)."""

    workflow_id: str


# -- bulk operations (services/user/bulk/) ---------------------------------------------------


class BulkStarted(UserWorkflowStarted):
    """An upload accepted: its run's id, its rows, and how many were refused at upload
    (malformed: they are ``failed`` in the report, the others run)."""

    total: int
    refused: int


class BulkRowOut(BaseModel):
    """One row of a bulk operation's report: ``status`` ``pending``, ``done``, ``failed`` (with
    ``error``) or ``cancelled`` (never run), and the user it is about once known."""

    row_number: int
    status: str
    error: str | None = None
    user_id: uuid.UUID | None = None
    email: str | None = None


class BulkReport(BaseModel):
    """A bulk operation (``bulk_user_operation``) and its rows, in upload order."""

    workflow_id: str
    kind: str
    #: ``running``, ``completed`` or ``cancelled``.
    status: str
    total: int
    done: int
    failed: int
    cancelled: int
    pending: int
    created_at: datetime
    rows: list[BulkRowOut]
