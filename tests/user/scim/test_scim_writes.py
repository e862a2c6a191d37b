"""SCIM writes on the real stack (every worker in process, the real workflows): PATCH and PUT of
a User (profile fields direct, ``active`` through ``user_deactivation``), DELETE through
``membership_change`` REMOVE, a Group's members through CHANGE_ROLE; each answer comes when the
run is done, and the effects are read from every service's tables."""

from __future__ import annotations

from typing import Any

import pytest

from tests.user.scim.scim_api import scim_client

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(240)]

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


async def test_patch_deactivates_reactivates_and_renames(scim_world: Any) -> None:
    async with scim_world() as world:
        tenant = await world.tenant(members=1)
        member = tenant.members[0]
        async with scim_client(world.api, tenant.token) as scim:
            renamed = await scim.patch(
                f"/scim/v2/Users/{member.id}",
                json=patch(
                    {"op": "replace", "path": "name.givenName", "value": "Grace"},
                    {"op": "add", "path": "title", "value": "Engineer"},
                ),
            )
            off = await scim.patch(
                f"/scim/v2/Users/{member.id}",
                json=patch({"op": "replace", "path": "active", "value": False}),
            )
            after_off = await world.trace(tenant.tenant_id, member.id)
            on = await scim.patch(
                f"/scim/v2/Users/{member.id}",
                json=patch({"op": "replace", "value": {"active": True}}),
            )
            after_on = await world.trace(tenant.tenant_id, member.id)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"]["givenName"] == "Grace" and renamed.json()["title"] == "Engineer"
    assert off.status_code == 200 and off.json()["active"] is False, off.text
    assert after_off["disabled"] is True and after_off["membership"] == ("member", "suspended")
    assert after_off["profile"].status == "deactivated"
    assert on.status_code == 200 and on.json()["active"] is True, on.text
    assert after_on["disabled"] is False and after_on["membership"] == ("member", "active")
