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
from schema.errors import NOT_FOUND, UserFacingError
from services.tenant.schemas import MemberPage
from services.user.schemas import PreferencesOut, ProfileOut, UserProfileOut

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


async def load_profiles(
    users: ServiceCall, ids: Sequence[str]
) -> list[UserProfileOut | BaseException | None]:
    """DataLoader batch function of whole profiles (``user(id)``): the user service has no
    batch read of them, so the distinct ids of a request are read at once (``GET /users/{id}``,
    as the caller); one the caller may not see is a 404 there, ``None`` here, as an unknown id."""

    async def profile(user_id: str) -> UserProfileOut | None:
        try:
            return await users.call("GET", f"/users/{user_id}", response=UserProfileOut)
        except UserFacingError as error:
            if (error.extensions or {}).get("code") == NOT_FOUND:
                return None
            raise

    return list(await asyncio.gather(*(profile(i) for i in ids), return_exceptions=True))


async def load_my_profile(users: ServiceCall, keys: Sequence[str]) -> list[UserProfileOut]:
    """DataLoader batch function of ``me { profile }`` (one key, ``"me"``): one
    ``GET /users/me`` per request."""
    mine = await users.call("GET", "/users/me", response=UserProfileOut)
    return [mine for _ in keys]


async def load_my_preferences(
    users: ServiceCall, tenant_ids: Sequence[str | None]
) -> list[PreferencesOut | BaseException]:
    """DataLoader batch function of ``me { preferences }``: the caller's user-level preferences
    (key ``None``, ``GET /users/me/preferences``) or those of a tenant (its validated id,
    ``GET /users/me/tenants/{id}/preferences``), each read once per request."""

    async def read(tenant_id: str | None) -> PreferencesOut:
        path = "/users/me/preferences"
        if tenant_id is not None:
            path = f"/users/me/tenants/{tenant_id}/preferences"
        return await users.call("GET", path, response=PreferencesOut)

    return list(await asyncio.gather(*(read(t) for t in tenant_ids), return_exceptions=True))
