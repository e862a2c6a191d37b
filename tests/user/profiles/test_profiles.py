"""Profiles: one's own read and update with every field's rule; admins of the active tenant
read (``users.read``) and update (``members.manage``) its members' profiles, nobody else's."""

from __future__ import annotations

import uuid

import pytest

from tests.user.user_api import UserApi, seed_team

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_own_profile_read_and_update(user_api: UserApi) -> None:
    me = await user_api.profile("Ada Lovelace")
    async with user_api.client(me) as client:
        got = await client.get("/users/me")
        assert got.status_code == 200, got.text
        assert got.json()["display_name"] == "Ada Lovelace"
        assert got.json()["locale"] is None
        changed = await client.patch(
            "/users/me",
            json={
                "display_name": "  Ada   King ",
                "given_name": "Ada",
                "family_name": "Lovelace",
                "avatar_file_id": str(uuid.uuid4()),
                "locale": "en-gb",
                "time_zone": "Europe/London",
                "title": "Countess",
                "phone": "+44 20 7946 0958",
            },
        )
        assert changed.status_code == 200, changed.text
        body = changed.json()
        assert body["display_name"] == "Ada King"
        assert body["locale"] == "en-GB"
        assert body["phone"] == "+442079460958"
        assert body["time_zone"] == "Europe/London"
        cleared = await client.patch("/users/me", json={"title": None, "phone": None})
        assert cleared.status_code == 200
        assert cleared.json()["title"] is None and cleared.json()["phone"] is None
        assert cleared.json()["given_name"] == "Ada"
        again = await client.get(f"/users/{me}")
        assert again.status_code == 200 and again.json()["family_name"] == "Lovelace"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("display_name", ""),
        ("display_name", "   "),
        ("display_name", None),
        ("display_name", "x" * 201),
        ("display_name", "evil\u202eeman"),
        ("display_name", "zero\u200bwidth"),
        ("display_name", "bell\x07"),
        ("given_name", "x" * 101),
        ("family_name", "line\u2028break"),
        ("title", "x" * 101),
        ("locale", "english"),
        ("locale", "xx-YY"),
        ("locale", "en_US"),
        ("locale", "e"),
        ("time_zone", "Mars/Olympus"),
        ("time_zone", "../../etc/passwd"),
        ("phone", "0446681800"),
        ("phone", "+1 555"),
        ("phone", "+999 1234567"),
        ("phone", "+41 44 abc"),
        ("avatar_file_id", "not-a-uuid"),
        ("email", "new@example.com"),
        ("status", "deactivated"),
        ("display_name", 12),
        ("display_name", "x" * 1_000_000),
    ],
)
async def test_each_field_is_validated(user_api: UserApi, field: str, value: object) -> None:
    me = await user_api.profile()
    async with user_api.client(me) as client:
        answer = await client.patch("/users/me", json={field: value})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert field in answer.text


async def test_unicode_names_are_kept(user_api: UserApi) -> None:
    me = await user_api.profile()
    async with user_api.client(me) as client:
        answer = await client.patch(
            "/users/me",
            json={"display_name": "José 李 Ørsted", "family_name": "ميرزا", "locale": "zh-hant-tw"},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["display_name"] == "José 李 Ørsted"
    assert answer.json()["locale"] == "zh-Hant-TW"


async def test_no_profile_is_404(user_api: UserApi) -> None:
    async with user_api.client(uuid.uuid4()) as client:
        assert (await client.get("/users/me")).status_code == 404
        assert (await client.patch("/users/me", json={"title": "x"})).status_code == 404


async def test_admin_reads_and_updates_members_of_the_active_tenant(user_api: UserApi) -> None:
    team = await seed_team(user_api)
    async with user_api.client(team.admin, team.tenant_id, "admin") as admin:
        read = await admin.get(f"/users/{team.member}")
        assert read.status_code == 200, read.text
        changed = await admin.patch(f"/users/{team.member}", json={"title": "Engineer"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["title"] == "Engineer"
        # An owner's profile only by an owner.
        refused = await admin.patch(f"/users/{team.owner}", json={"title": "Boss"})
        assert refused.status_code == 403
    async with user_api.client(team.owner, team.tenant_id, "owner") as owner:
        assert (await owner.patch(f"/users/{team.admin}", json={"title": "X"})).status_code == 200


async def test_reading_members_needs_users_read(user_api: UserApi) -> None:
    team = await seed_team(user_api)
    async with user_api.client(team.viewer, team.tenant_id, "viewer") as viewer:
        assert (await viewer.get(f"/users/{team.member}")).status_code == 200
        refused = await viewer.patch(f"/users/{team.member}", json={"title": "x"})
        assert refused.status_code == 403
        assert "members.manage" in refused.json()["detail"]
    async with user_api.client(team.member, team.tenant_id, "member", permissions=[]) as bare:
        assert (await bare.get(f"/users/{team.viewer}")).status_code == 404
        batch = await bare.get("/users", params={"ids": [str(team.viewer), str(team.member)]})
        assert [u["id"] for u in batch.json()] == [str(team.member)]
    async with user_api.client(team.member, team.tenant_id, "member") as member:
        batch = await member.get("/users", params={"ids": [str(team.viewer), str(team.owner)]})
        assert {u["id"] for u in batch.json()} == {str(team.viewer), str(team.owner)}


async def test_no_tenant_token_sees_only_itself(user_api: UserApi) -> None:
    team = await seed_team(user_api)
    async with user_api.client(team.admin, None, permissions=["users.read"]) as client:
        assert (await client.get(f"/users/{team.member}")).status_code == 404
        assert (await client.patch(f"/users/{team.member}", json={"title": "x"})).status_code == 404
        assert (await client.get(f"/users/{team.admin}")).status_code == 200
