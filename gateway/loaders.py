"""DataLoaders of the gateway's context: one batched service call per request and kind.

Every service-backed field that a list can repeat reads through a loader made for this request
only (``GatewayContext``), so a nested list costs one call per level, not one per item:
``tenants { members { edges { node { user } } } }`` is one ``GET /tenants``, one members page
per tenant (deduplicated: the tenant service has no batch read of pages) and one
``GET /users?ids=…`` for every profile of the whole answer (``tests/gateway/efficiency``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gateway.service_clients import ServiceCall
from services.tenant.schemas import MemberPage
from services.user.schemas import ProfileOut

#: The user service's batch limit (``services/user/routes.py``, ``MAX_BATCH``).
MAX_USER_BATCH = 100


async def load_users(users: ServiceCall, ids: Sequence[str]) -> list[ProfileOut | None]:
    """DataLoader batch function: one ``GET /users?ids=…`` for every user a query touches,
    carrying the caller's token: the user service applies the same rule (``may_read_profile``),
    so an invisible profile is ``None`` like an unknown one."""
    rows = await users.call("GET", "/users", params={"ids": list(ids)}, response=list[ProfileOut])
    by_id = {str(row.id): row for row in rows}
    return [by_id.get(i) for i in ids]


#: One page of a tenant's members: (tenant id, first, after), validated by ``schema/tenants.py``.
MemberPageKey = tuple[str, int, str | None]


async def load_member_pages(
    tenants: ServiceCall, keys: Sequence[MemberPageKey]
) -> list[MemberPage | BaseException]:
    """DataLoader batch function: the distinct pages asked for in this request, read at once
    (the DataLoader already merged repeated keys); a refused page fails its own fields only."""

    async def page(key: MemberPageKey) -> MemberPage:
        tenant_id, first, after = key
        params: dict[str, object] = {"first": first}
        if after is not None:
            params["after"] = after
        return await tenants.call(
            "GET", f"/tenants/{tenant_id}/members", params=params, response=MemberPage
        )

    return list(await asyncio.gather(*(page(key) for key in keys), return_exceptions=True))
