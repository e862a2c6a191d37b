"""GraphQL types of users (profiles owned by the user service)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from services.user.schemas import ProfileOut


@strawberry.type(description="A user's profile (owned by the user service).")
class User:
    id: strawberry.ID
    email: str
    display_name: str
    created_at: datetime

    @classmethod
    def of(cls, row: ProfileOut) -> User:
        return cls(**{**row.model_dump(), "id": strawberry.ID(str(row.id))})
