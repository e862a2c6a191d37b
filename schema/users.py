"""GraphQL types of users (profiles owned by the user service)."""

from __future__ import annotations

from datetime import datetime

import strawberry


@strawberry.type(description="A user's profile (owned by the user service).")
class User:
    id: strawberry.ID
    email: str
    display_name: str
    created_at: datetime
