"""User queries: read-only, so they go straight to the user service over HTTP (no workflow)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import strawberry

from schema.errors import BAD_USER_INPUT, UNAUTHENTICATED, UserFacingError
from schema.users import User
from services.common.principal import may_read_profile
from services.common.tokens import InvalidTokenError

if TYPE_CHECKING:
    from gateway.context import GatewayContext


def _parse_id(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError as error:
        # The value is not echoed: it may be megabytes long (or someone's secret pasted wrongly).
        raise UserFacingError("not a valid user id (expected a UUID)", BAD_USER_INPUT) from error


async def resolve_user(info: strawberry.Info[GatewayContext], id: strawberry.ID) -> User | None:
    """Signed-in callers may read their own profile; reading other people's arrives with the
    tenant directory (``may_read_profile``, shared with the user service). Anyone else gets the
    same ``null`` as for an unknown id."""
    user_id = _parse_id(id)
    try:
        principal = await info.context.principal()
    except InvalidTokenError as error:
        raise UserFacingError(f"not authenticated: {error}", UNAUTHENTICATED) from error
    if not may_read_profile(principal, user_id):
        return None
    row = await info.context.users.load(user_id)
    if row is None:
        return None
    return User.of(row)
