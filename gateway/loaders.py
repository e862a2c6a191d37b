"""DataLoaders of the gateway's context, one batched service call per request and kind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.service_clients import ServiceClients, ServiceUnavailable
from schema.errors import (
    BAD_USER_INPUT,
    OUTAGE_RETRY_AFTER,
    SERVICE_UNAVAILABLE,
    UNAUTHENTICATED,
    UserFacingError,
)


async def load_users(
    services: ServiceClients, ids: Sequence[str], authorization: str | None = None
) -> list[dict[str, Any] | None]:
    """DataLoader batch function: one ``GET /users?ids=…`` for every user a query touches,
    carrying the caller's token: the user service applies the same rule (``may_read_profile``)."""
    try:
        response = await services.user.get("/users", authorization=authorization, ids=list(ids))
    except ServiceUnavailable as error:
        raise UserFacingError(
            "the user service is unavailable", SERVICE_UNAVAILABLE, retryAfter=OUTAGE_RETRY_AFTER
        ) from error
    if response.status_code == 401:
        raise UserFacingError("not authenticated", UNAUTHENTICATED)
    if response.status_code >= 400:
        raise UserFacingError("the user service refused the request", BAD_USER_INPUT)
    by_id = {row["id"]: row for row in response.json()}
    return [by_id.get(i) for i in ids]
