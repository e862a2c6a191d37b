"""The user domain's root fields."""

from __future__ import annotations

import strawberry

from resolvers.users import resolve_user
from schema.users import User


@strawberry.type
class UserQuery:
    user: User | None = strawberry.field(resolver=resolve_user, description="A user by id.")
