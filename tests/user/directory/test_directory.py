"""The tenant directory: members of the active tenant only, search by name and address (prefix
and typo-tolerant, pg_trgm), filters, sorts, stable cursor pagination, bounded input."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.user.user_api import UserApi

pytestmark = pytest.mark.asyncio(loop_scope="session")

PEOPLE = [
    ("Alice Johnson", "alice.johnson@example.com", "admin"),
    ("Bob Smith", "bob@builders.test", "member"),
    ("Carla Jiménez", "carla@example.com", "member"),
    ("Dmitri Ivanov", "dmitri@example.org", "viewer"),
    ("Élodie Martin", "elodie@example.fr", "member"),
    ("Johnathan Price", "jp@example.com", "member"),
]


async def _tenant(api: UserApi) -> tuple[uuid.UUID, uuid.UUID, dict[str, uuid.UUID]]:
    tenant_id = uuid.uuid4()
    owner = await api.profile("Olivia Owner", email=f"owner-{tenant_id.hex[:8]}@example.com")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    await api.member(tenant_id, owner, "owner", joined_at=start)
    ids = {}
    for n, (name, email, role) in enumerate(PEOPLE, start=1):
        local, domain = email.split("@")
        user_id = await api.profile(name, email=f"{local}.{tenant_id.hex[:6]}@{domain}")
        await api.member(tenant_id, user_id, role, joined_at=start + timedelta(days=n))
        ids[name] = user_id
    return tenant_id, owner, ids


async def _names(client: Any, **params: Any) -> list[str]:
    answer = await client.get("/directory", params=params)
    assert answer.status_code == 200, answer.text
    return [item["display_name"] for item in answer.json()["items"]]


async def test_search_prefix_typo_and_email(user_api: UserApi) -> None:
    tenant_id, owner, _ = await _tenant(user_api)
    async with user_api.client(owner, tenant_id, "owner") as client:
        assert await _names(client, search="ali") == ["Alice Johnson"]
        # A word's prefix anywhere in the name.
        assert await _names(client, search="smi") == ["Bob Smith"]
        # Typos: one letter wrong, swapped.
        assert "Alice Johnson" in await _names(client, search="Alise")
        assert "Dmitri Ivanov" in await _names(client, search="Dimitri")
        assert "Bob Smith" in await _names(client, search="smtih")
        # Addresses, by prefix.
        assert await _names(client, search="dmitri.") == ["Dmitri Ivanov"]
        assert (await _names(client, search=f"jp.{tenant_id.hex[:6]}@"))[0] == "Johnathan Price"
        # Relevance: the prefix match first.
        found = await _names(client, search="john")
        assert found[0] in {"Alice Johnson", "Johnathan Price"}
        assert set(found) >= {"Alice Johnson", "Johnathan Price"}
        # Case and accents as typed.
        assert await _names(client, search="ÉLODIE") == ["Élodie Martin"]
        assert await _names(client, search="zzzzqqq") == []
        # LIKE wildcards are plain characters.
        assert await _names(client, search="%") == []
        assert await _names(client, search="_") == []


async def test_filters_and_sorts(user_api: UserApi) -> None:
    tenant_id, owner, _ = await _tenant(user_api)
    async with user_api.client(owner, tenant_id, "owner") as client:
        assert await _names(client, role="viewer") == ["Dmitri Ivanov"]
        assert await _names(client, role="admin") == ["Alice Johnson"]
        everyone = await _names(client)
        assert everyone == sorted(everyone, key=str.lower) and len(everyone) == 7
        assert await _names(client, sort="-name") == list(reversed(everyone))
        joined = await _names(client, sort="joined_at")
        assert joined[0] == "Olivia Owner" and joined[-1] == "Johnathan Price"
        assert await _names(client, sort="-joined_at") == list(reversed(joined))
        emails = (await client.get("/directory", params={"sort": "email"})).json()["items"]
        assert [e["email"] for e in emails] == sorted(e["email"] for e in emails)
        assert await _names(client, status="suspended") == []
        assert len(await _names(client, status="active")) == 7
        assert await _names(client, role="member", search="carla") == ["Carla Jiménez"]


@pytest.mark.parametrize("sort", ["name", "-name", "email", "-email", "joined_at", "-joined_at"])
async def test_pagination_is_stable(user_api: UserApi, sort: str) -> None:
    tenant_id, owner, _ = await _tenant(user_api)
    async with user_api.client(owner, tenant_id, "owner") as client:
        whole = await _names(client, sort=sort, first=100)
        seen: list[str] = []
        after = None
        for _ in range(10):
            params: dict[str, Any] = {"sort": sort, "first": 2}
            if after:
                params["after"] = after
            page = (await client.get("/directory", params=params)).json()
            seen += [item["display_name"] for item in page["items"]]
            after = page["next_cursor"]
            if after is None:
                break
        assert seen == whole


async def test_relevance_pages(user_api: UserApi) -> None:
    tenant_id, owner, _ = await _tenant(user_api)
    async with user_api.client(owner, tenant_id, "owner") as client:
        whole = await _names(client, search="jo", first=100)
        first = (await client.get("/directory", params={"search": "jo", "first": 1})).json()
        rest = await _names(client, search="jo", first=100, after=first["next_cursor"])
        assert [first["items"][0]["display_name"], *rest] == whole
        # A cursor belongs to its query and sort.
        other = await client.get(
            "/directory", params={"search": "al", "after": first["next_cursor"]}
        )
        assert other.status_code == 422
        resorted = await client.get(
            "/directory", params={"search": "jo", "sort": "name", "after": first["next_cursor"]}
        )
        assert resorted.status_code == 422


@pytest.mark.parametrize(
    "params",
    [
        {"search": "x" * 60_000},  # httpx builds no longer URL
        {"search": "x" * 101},
        {"search": ""},
        {"search": "\x00abc"},
        {"search": "a\u202eb"},
        {"first": 0},
        {"first": 101},
        {"first": "many"},
        {"sort": "password"},
        {"sort": "relevance"},
        {"status": "gone"},
        {"role": "A B"},
        {"after": "garbage"},
        {"after": "eyJzIjoibmFtZSJ9"},
        {"after": "x" * 10_000},
    ],
)
async def test_bad_input_is_422(user_api: UserApi, params: dict[str, Any]) -> None:
    tenant_id = uuid.uuid4()
    async with user_api.client(uuid.uuid4(), tenant_id, "owner") as client:
        answer = await client.get("/directory", params=params)
    assert answer.status_code == 422, answer.text[:300]
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_permission_and_tenant_refusals(user_api: UserApi) -> None:
    tenant_id, _owner, ids = await _tenant(user_api)
    member = ids["Bob Smith"]
    async with user_api.client(member, tenant_id, "member", permissions=[]) as bare:
        refused = await bare.get("/directory")
        assert refused.status_code == 403 and "users.read" in refused.json()["detail"]
    async with user_api.client(member, None, permissions=["users.read"]) as none:
        assert (await none.get("/directory")).status_code == 403
    async with user_api.client(member, tenant_id, "viewer") as viewer:
        assert len(await _names(viewer)) == 7


async def test_invalid_utf8_in_the_query_is_4xx(user_api: UserApi) -> None:
    tenant_id = uuid.uuid4()
    async with user_api.client(uuid.uuid4(), tenant_id, "owner") as client:
        answer = await client.get("/directory?search=%ff%fe")
    assert 400 <= answer.status_code < 500
