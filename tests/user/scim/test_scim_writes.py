"""SCIM writes on the real stack (every worker in process, the real workflows): PATCH and PUT of
a User (profile fields direct, ``active`` through ``user_deactivation``), DELETE through
``membership_change`` REMOVE, a Group's members through CHANGE_ROLE; each answer comes when the
run is done, and the effects are read from every service's tables."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from storage.auth.repository import CredentialRepository
from storage.db import transaction
from tests.user.scim.scim_api import assert_scim_error, scim_client

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(240)]

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"


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


async def test_put_replaces_and_groups_put_states_the_members(scim_world: Any) -> None:
    async with scim_world() as world:
        tenant = await world.tenant(members=2)
        first, second = tenant.members
        async with scim_client(world.api, tenant.token) as scim:
            user = (await scim.get(f"/scim/v2/Users/{first.id}")).json()
            wanted = {k: v for k, v in user.items() if k not in ("meta", "groups")}
            wanted |= {"displayName": "Ada L.", "name": {"familyName": "Lovelace"}}
            wanted["timezone"] = "Europe/London"
            replaced = await scim.put(f"/scim/v2/Users/{first.id}", json=wanted)
            groups = (await scim.get("/scim/v2/Groups")).json()["Resources"]
            admin = next(g for g in groups if g["displayName"] == "admin")
            stated = await scim.put(
                f"/scim/v2/Groups/{admin['id']}",
                json={
                    "schemas": [GROUP_URN],
                    "displayName": "admin",
                    "members": [{"value": str(first.id)}, {"value": str(second.id)}],
                },
            )
            both = [await world.trace(tenant.tenant_id, p.id) for p in (first, second)]
            emptied = await scim.put(
                f"/scim/v2/Groups/{admin['id']}",
                json={"schemas": [GROUP_URN], "displayName": "admin", "members": []},
            )
            back = [await world.trace(tenant.tenant_id, p.id) for p in (first, second)]
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert body["displayName"] == "Ada L." and body["name"] == {"familyName": "Lovelace"}
    assert body["timezone"] == "Europe/London"
    assert stated.status_code == 200, stated.text
    assert {m["value"] for m in stated.json()["members"]} == {str(first.id), str(second.id)}
    assert [t["membership"] for t in both] == [("admin", "active")] * 2
    assert [t["claims"] for t in both] == [["admin"]] * 2
    assert emptied.status_code == 200 and not emptied.json().get("members"), emptied.text
    assert [t["membership"] for t in back] == [("member", "active")] * 2


async def test_what_the_workflows_refuse_writes_nothing(scim_world: Any) -> None:
    """The last owner is neither removed nor demoted; a member of another tenant too is
    deactivated only by an operator; each refusal is a SCIM 400 and changes nothing, the
    profile fields of the same PATCH included."""
    async with scim_world() as world:
        tenant = await world.tenant(members=1)
        other = await world.tenant(members=0)
        member, owner = tenant.members[0], tenant.owner
        await world.join(other.tenant_id, other.owner, member)
        before = {p.id: await world.trace(tenant.tenant_id, p.id) for p in (owner, member)}
        async with scim_client(world.api, tenant.token) as scim:
            removed = await scim.delete(f"/scim/v2/Users/{owner.id}")
            groups = (await scim.get("/scim/v2/Groups")).json()["Resources"]
            owners = next(g for g in groups if g["displayName"] == "owner")
            demoted = await scim.patch(
                f"/scim/v2/Groups/{owners['id']}",
                json=patch({"op": "remove", "path": f'members[value eq "{owner.id}"]'}),
            )
            deactivated = await scim.patch(
                f"/scim/v2/Users/{member.id}",
                json=patch(
                    {"op": "replace", "path": "title", "value": "Gone"},
                    {"op": "replace", "path": "active", "value": False},
                ),
            )
        after = {p.id: await world.trace(tenant.tenant_id, p.id) for p in (owner, member)}
    assert_scim_error(removed, 400, "mutability")
    assert_scim_error(demoted, 400, "mutability")
    assert_scim_error(deactivated, 400, "mutability")
    for user_id, state in before.items():
        assert {k: v for k, v in after[user_id].items() if k != "profile"} == {
            k: v for k, v in state.items() if k != "profile"
        }
        assert after[user_id]["profile"].title == state["profile"].title
        assert after[user_id]["profile"].status == state["profile"].status == "active"


async def test_a_user_created_inactive_is_deactivated_and_a_password_is_not_kept(
    scim_world: Any,
) -> None:
    """``POST /Users`` with ``active: false``: onboarded, then deactivated before the answer.
    A ``password`` the IdP sends is neither stored nor passed on (the person sets their own)."""
    address = f"inactive-{uuid.uuid4().hex[:8]}@example.com"
    async with scim_world() as world:
        tenant = await world.tenant(members=0)
        async with scim_client(world.api, tenant.token) as scim:
            created = await scim.post(
                "/scim/v2/Users",
                json={
                    "schemas": [USER_URN],
                    "userName": address,
                    "displayName": "Later Starter",
                    "active": False,
                    "password": "Sup3r-secret-from-the-IdP",
                },
            )
            assert created.status_code == 201, created.text
            user_id = uuid.UUID(created.json()["id"])
            state = await world.trace(tenant.tenant_id, user_id)
            async with transaction(world.resources["auth"].database) as db:
                credential = await CredentialRepository(db).get(user_id)
    body = created.json()
    assert body["active"] is False and body["userName"] == address
    assert created.headers["location"].endswith(f"/scim/v2/Users/{user_id}")
    assert "password" not in body and "Sup3r" not in created.text
    assert state["disabled"] is True and state["membership"] == ("member", "suspended")
    assert state["profile"].status == "deactivated"
    assert credential is not None and credential.password_hash is None
