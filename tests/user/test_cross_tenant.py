"""The cross-tenant matrix of every user route: a token for tenant A, even an owner's and even
of someone who is also a member of B, reaches nothing of B (its members' profiles, its
directory, its preferences); B's members answer like unknown users."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.user.user_api import UserApi, seed_team

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _reaches_nothing_of_b(
    client: httpx.AsyncClient, b_member: uuid.UUID, b: uuid.UUID
) -> None:
    assert (await client.get(f"/users/{b_member}")).status_code == 404
    assert (await client.patch(f"/users/{b_member}", json={"title": "x"})).status_code == 404
    batch = await client.get("/users", params={"ids": [str(b_member)]})
    assert batch.status_code == 200 and batch.json() == []
    directory = await client.get("/directory", params={"first": 100})
    assert str(b_member) not in directory.text
    for method in ("GET", "PUT"):
        answer = await client.request(method, f"/users/me/tenants/{b}/preferences", json={})
        assert answer.status_code == 403


@pytest.mark.parametrize("role", ["owner", "admin", "member", "viewer"])
async def test_a_token_for_a_reaches_nothing_of_b(user_api: UserApi, role: str) -> None:
    a, b = await seed_team(user_api, "A"), await seed_team(user_api, "B")
    caller = getattr(a, role)
    async with user_api.client(caller, a.tenant_id, role) as client:
        for b_member in (b.owner, b.admin, b.member, b.viewer):
            await _reaches_nothing_of_b(client, b_member, b.tenant_id)
        names = [m["user_id"] for m in (await client.get("/directory")).json()["items"]]
        assert set(names) == {str(a.owner), str(a.admin), str(a.member), str(a.viewer)}


async def test_a_member_of_both_sees_each_only_with_its_token(user_api: UserApi) -> None:
    a, b = await seed_team(user_api, "A"), await seed_team(user_api, "B")
    both = await user_api.profile("In Both")
    await user_api.member(a.tenant_id, both, "admin")
    await user_api.member(b.tenant_id, both, "admin")
    async with user_api.client(both, a.tenant_id, "admin") as in_a:
        await _reaches_nothing_of_b(in_a, b.member, b.tenant_id)
        assert (await in_a.get(f"/users/{a.member}")).status_code == 200
        # Renaming oneself reaches the copy in b too.
        assert (
            await in_a.patch("/users/me", json={"display_name": "Renamed Both"})
        ).status_code == 200
    async with user_api.client(both, b.tenant_id, "admin") as in_b:
        await _reaches_nothing_of_b(in_b, a.member, a.tenant_id)
        found = (await in_b.get("/directory", params={"search": "Renamed"})).json()["items"]
        assert [m["user_id"] for m in found] == [str(both)]


async def test_forged_and_missing_tokens(user_api: UserApi) -> None:
    a = await seed_team(user_api)
    paths = [
        ("GET", "/users/me"),
        ("PATCH", "/users/me"),
        ("GET", f"/users/{a.member}"),
        ("PATCH", f"/users/{a.member}"),
        ("GET", f"/users?ids={a.member}"),
        ("GET", "/users/me/preferences"),
        ("PUT", "/users/me/preferences"),
        ("GET", f"/users/me/tenants/{a.tenant_id}/preferences"),
        ("PUT", f"/users/me/tenants/{a.tenant_id}/preferences"),
        ("GET", "/directory"),
        ("GET", "/users/preferences/schema"),
    ]
    async with user_api.client(a.owner, a.tenant_id, "owner") as client:
        token = client.headers["authorization"]
        for method, path in paths:
            for header in ({}, {"authorization": token[:-4] + "AAAA"}):
                client.headers.pop("authorization", None)
                client.headers.update(header)
                answer = await client.request(method, path, json={})
                assert answer.status_code == 401, (method, path)
