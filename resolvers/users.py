"""User queries: read-only, so they go straight to the user service over HTTP (no workflow)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import strawberry

from gateway.service_clients import ServiceClients, ServiceUnavailable
from schema.errors import BAD_USER_INPUT, SERVICE_UNAVAILABLE, UserFacingError
from schema.types import User

if TYPE_CHECKING:
    from gateway.context import GatewayContext


async def load_users(services: ServiceClients, ids: Sequence[str]) -> list[dict[str, Any] | None]:
    """DataLoader batch function: one ``GET /users?ids=…`` for every user a query touches."""
    try:
        response = await services.user.get("/users", ids=list(ids))
    except ServiceUnavailable as error:
        raise UserFacingError("the user service is unavailable", SERVICE_UNAVAILABLE) from error
    by_id = {row["id"]: row for row in response.json()}
    return [by_id.get(i) for i in ids]


def _parse_id(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError as error:
        raise UserFacingError(f"not a valid user id: {raw!r}", BAD_USER_INPUT) from error


async def resolve_user(info: strawberry.Info[GatewayContext], id: strawberry.ID) -> User | None:
    row = await info.context.users.load(_parse_id(id))
    if row is None:
        return None
    return User(
        id=strawberry.ID(row["id"]),
        email=row["email"],
        display_name=row["display_name"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )
