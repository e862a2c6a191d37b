"""Tables of the ``users`` schema (docs/users.md).

``profiles`` are a person's own (not tenant-owned). ``preferences`` are a user's, either for every
tenant (``tenant_id`` NULL) or for one tenant; ``directory`` is the user service's copy of the
tenants' memberships. Row-level security guards the tenant-owned rows of both
(``storage/migrations/versions/users/20261201_0002_profiles_preferences_directory.py``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.base import TenantOwnedMixin, TimestampMixin, new_id, schema_metadata


class UsersBase(DeclarativeBase):
    metadata = schema_metadata("users")


class ProfileStatus(StrEnum):
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


class UpdatedMixin:
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class Profile(TimestampMixin, UpdatedMixin, UsersBase):
    """A person's profile; its id is the user id the auth service issued."""

    __tablename__ = "profiles"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    display_name: Mapped[str] = mapped_column(String(200), nullable=False)
    given_name: Mapped[str | None] = mapped_column(String(100))
    family_name: Mapped[str | None] = mapped_column(String(100))
    #: A file of the file service (its existence is the file service's to check).
    avatar_file_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    #: BCP 47 tag in canonical case (``workflows/user/rules.py``).
    locale: Mapped[str | None] = mapped_column(String(35))
    #: IANA time zone name.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(100))
    #: E.164.
    phone: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(
        String(20), nullable=False, default=ProfileStatus.ACTIVE.value
    )
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True, nullable=False)


class Preferences(UpdatedMixin, UsersBase):
    """One user's preferences: for every tenant (``tenant_id`` None) or within one tenant. Only
    what the user set is stored; the schema's defaults fill the rest when read."""

    __tablename__ = "preferences"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    #: The version of the published schema the values were validated against.
    schema_version: Mapped[int] = mapped_column(Integer, nullable=False)
    values: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)


class DirectoryEntry(TenantOwnedMixin, UpdatedMixin, UsersBase):
    """A member of a tenant, as the tenant workflows told the user service
    (``workflows/user/directory_contracts.py``), with the names and address of their profile."""

    __tablename__ = "directory"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    role: Mapped[str] = mapped_column(String(50), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    display_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    email: Mapped[str] = mapped_column(String(320), nullable=False, default="")
    name_text: Mapped[str] = mapped_column(String(410), nullable=False, default="")


class ScimToken(TenantOwnedMixin, TimestampMixin, UsersBase):
    """A tenant's SCIM bearer token (``services/user/scim/``): only its SHA-256 digest is kept;
    the token is shown once, when it is issued. A revoked token stays listed (``revoked_at``)."""

    __tablename__ = "scim_tokens"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    #: Hex SHA-256 of the whole token.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FirstRun(TenantOwnedMixin, TimestampMixin, UsersBase):
    """A member's first-run set-up in one tenant (``user_first_run``, docs/users.md): the
    profile-completion checklist they see, and what the run created (so its compensation removes
    exactly that and nothing that existed before)."""

    __tablename__ = "first_runs"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    #: ``[{"item": ..., "done": bool}]`` in display order.
    checklist: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    #: What this set-up created: ``profile``, ``preferences``, ``tenant_preferences``,
    #: ``directory`` (booleans).
    created: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    #: The key of the step that wrote the row (``<workflow id>:<run id>:...``).
    idempotency_key: Mapped[str] = mapped_column(String(300), nullable=False)
    welcome_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BulkOperation(TenantOwnedMixin, TimestampMixin, UpdatedMixin, UsersBase):
    """One bulk operation over a tenant's users (``bulk_user_operation``), run by ``workflow_id``;
    its rows are ``BulkOperationRow``s."""

    __tablename__ = "bulk_operations"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    #: ``workflows/user/bulk_contracts.py`` ``BulkKind``.
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    actor_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    workflow_id: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    #: ``OperationStatus``.
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    total: Mapped[int] = mapped_column(Integer, nullable=False)


class BulkOperationRow(TenantOwnedMixin, UpdatedMixin, UsersBase):
    """One uploaded row and its result: ``status`` (``RowStatus``), the error of a failed row,
    the user it is about once known. ``data`` holds the row's fields as parsed."""

    __tablename__ = "bulk_operation_rows"

    operation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    error: Mapped[str | None] = mapped_column(String(500))
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class ScimUserRecord(TenantOwnedMixin, TimestampMixin, UpdatedMixin, UsersBase):
    """What a tenant's identity provider says of one member over SCIM beyond the profile's
    fields (``services/user/scim/extras.py``): its ``externalId`` (unique in the tenant) and the
    other attributes as SCIM names them (``nickName``, ``addresses``, ``name.middleName``, ...),
    validated and size-bounded before they are written. Personal data of the tenant's: RLS."""

    __tablename__ = "scim_users"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(255))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)


class ScimGroupRecord(TenantOwnedMixin, TimestampMixin, UpdatedMixin, UsersBase):
    """A tenant role that SCIM knows of (``POST /Groups`` made it, or an IdP gave it an
    ``externalId``): listed as a Group even while nobody holds it."""

    __tablename__ = "scim_groups"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    role: Mapped[str] = mapped_column(String(50), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(255))
