"""Tables of the ``users`` schema."""

from __future__ import annotations

import uuid

from sqlalchemy import String
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.base import TimestampMixin, schema_metadata


class UsersBase(DeclarativeBase):
    metadata = schema_metadata("users")


class Profile(TimestampMixin, UsersBase):
    """A person's profile; its id is the user id the auth service issued."""

    __tablename__ = "profiles"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    display_name: Mapped[str] = mapped_column(String(200), nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True, nullable=False)
