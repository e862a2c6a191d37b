"""Tables of the ``auth`` schema."""

from __future__ import annotations

import uuid

from sqlalchemy import Boolean, String, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.base import TimestampMixin, schema_metadata


class AuthBase(DeclarativeBase):
    metadata = schema_metadata("auth")


class Credential(TimestampMixin, AuthBase):
    """A login identity; global (not tenant-owned): one person signs in once for all tenants."""

    __tablename__ = "credentials"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(512), nullable=False)
    email_verified: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True, nullable=False)
