"""Tables of the ``tenants`` schema (docs/tenancy.md). Every table is guarded by row-level
security on its tenant (``tenants.id`` for the tenant row itself); a user also sees their own
memberships, and the tenants they belong to, in every tenant (``storage/migrations/rls.py``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from storage.base import TenantOwnedMixin, TimestampMixin, new_id, schema_metadata


class TenantsBase(DeclarativeBase):
    metadata = schema_metadata("tenants")


class UpdatedMixin:
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class TenantStatus(StrEnum):
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETING = "deleting"
    DELETED = "deleted"


class MembershipStatus(StrEnum):
    ACTIVE = "active"
    #: Kept while the tenant is suspended; logins into the tenant are refused.
    SUSPENDED = "suspended"


class InvitationStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REVOKED = "revoked"
    EXPIRED = "expired"


class DomainStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"


class TenantRowMixin(TenantOwnedMixin, TimestampMixin, UpdatedMixin):
    """A row that belongs to a tenant: its own id, and ``tenant_id`` referencing the tenant (so
    deleting the tenant row deletes it)."""

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            UUID(as_uuid=True),
            ForeignKey("tenants.tenants.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )


class Tenant(TimestampMixin, UpdatedMixin, TenantsBase):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(63), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(
        String(20), nullable=False, default=TenantStatus.PROVISIONING.value
    )
    plan: Mapped[str] = mapped_column(String(30), nullable=False, default="free")
    seat_quota: Mapped[int] = mapped_column(Integer, nullable=False)
    storage_quota_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    created_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    billing_customer_id: Mapped[str | None] = mapped_column(String(100))
    billing_subscription_id: Mapped[str | None] = mapped_column(String(100))
    #: The blob-store prefix of the tenant's files (``tenants/<id>/``).
    storage_prefix: Mapped[str | None] = mapped_column(String(200))
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: A scheduled deletion's moment (``tenant_suspension``), None when none is scheduled.
    delete_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The provisioning run that created the row (its compensation removes only its own).
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True, nullable=False)


class Membership(TenantRowMixin, TenantsBase):
    """A user's role in a tenant (a built-in role or one of the tenant's custom roles)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    role: Mapped[str] = mapped_column(String(50), nullable=False)
    status: Mapped[str] = mapped_column(
        String(20), nullable=False, default=MembershipStatus.ACTIVE.value
    )
    joined_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    #: The member's display name and address, copied from their profile by the user service's
    #: ``user_profile_sync`` with the profile version they came from (an older one never wins).
    display_name: Mapped[str] = mapped_column(String(200), nullable=False, server_default="")
    email: Mapped[str] = mapped_column(String(320), nullable=False, server_default="")
    profile_version: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")


class Role(TenantRowMixin, TenantsBase):
    """A tenant's custom role: a name for a subset of the permission catalogue."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(40), nullable=False)
    description: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    permissions: Mapped[list[str]] = mapped_column(ARRAY(String(40)), nullable=False)


class Invitation(TenantRowMixin, TenantsBase):
    """An invitation to join a tenant; its token is stored only as a SHA-256 digest."""

    __tablename__ = "invitations"

    #: Normalised (lower-cased) address.
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    role: Mapped[str] = mapped_column(String(50), nullable=False)
    inviter_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    status: Mapped[str] = mapped_column(
        String(20), nullable=False, default=InvitationStatus.PENDING.value
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    sent_count: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Domain(TenantRowMixin, TenantsBase):
    """An e-mail domain a tenant claims; verified by a DNS TXT record carrying ``txt_token``."""

    __tablename__ = "domains"
    __table_args__ = (UniqueConstraint("tenant_id", "domain"),)

    domain: Mapped[str] = mapped_column(String(253), nullable=False)
    txt_token: Mapped[str] = mapped_column(String(100), nullable=False)
    status: Mapped[str] = mapped_column(
        String(20), nullable=False, default=DomainStatus.PENDING.value
    )
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: With a role, users with a verified address of this domain may join with it.
    auto_join_role: Mapped[str | None] = mapped_column(String(50))


class ActiveTenant(TenantsBase):
    """The tenant a user last switched into (``tenant_switching``): one row per user, guarded by
    row-level security on the acting user (a user reads and writes only their own row)."""

    __tablename__ = "active_tenants"

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.tenants.id", ondelete="CASCADE"), nullable=False
    )
    #: The tenant recorded before this one (for the compensation of a failed switching run).
    previous_tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    switched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    #: The switching run that wrote the row last (a retried step writes nothing new).
    idempotency_key: Mapped[str] = mapped_column(String(300), nullable=False)


class MembershipChangeOutcome(TenantOwnedMixin, TimestampMixin, TenantsBase):
    """The outcome of an applied membership change (``tenant.apply_membership_change``), written
    in the change's own transaction under its idempotency key: a retried step answers it, with
    the rows as they were before the change, instead of reading the changed rows."""

    __tablename__ = "membership_change_outcomes"

    idempotency_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("tenants.tenants.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    outcome: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
