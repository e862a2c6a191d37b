"""DataLoaders of the gateway's context, one batched service call per request and kind."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.service_clients import Caller, ServiceClients
from services.common.settings import ServiceName
from services.user.schemas import ProfileOut


async def load_users(
    services: ServiceClients, ids: Sequence[str], authorization: str | None = None
) -> list[ProfileOut | None]:
    """DataLoader batch function: one ``GET /users?ids=…`` for every user a query touches,
    carrying the caller's token: the user service applies the same rule (``may_read_profile``)."""
    users = services.of(ServiceName.user, Caller(authorization=authorization))
    rows = await users.call("GET", "/users", params={"ids": list(ids)}, response=list[ProfileOut])
    by_id = {str(row.id): row for row in rows}
    return [by_id.get(i) for i in ids]
