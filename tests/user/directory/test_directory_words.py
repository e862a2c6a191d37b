"""Prefix search's word table (``users.directory_words``, migration ``users_0007``): kept by the
directory's trigger through a rename that reaches one's entries in every tenant, each word of a
search a prefix, and bound to the transaction's tenant by row-level security."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.common.settings import ServiceName, Settings
from storage.db import session_factory, transaction
from tests.user.user_api import UserApi

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _names(client: Any, **params: Any) -> list[str]:
    answer = await client.get("/directory", params=params)
    assert answer.status_code == 200, answer.text
    return [item["display_name"] for item in answer.json()["items"]]


@pytest.fixture
async def app_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(settings.app_database_url(ServiceName.user))
    yield engine
    await engine.dispose()


async def test_a_rename_reaches_the_words_of_every_tenant(user_api: UserApi) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    owner_a, owner_b = await user_api.profile("Owner A"), await user_api.profile("Owner B")
    person = await user_api.profile("Wilhelmina Quorndon", email=f"wq-{a.hex[:8]}@example.com")
    for tenant, owner in ((a, owner_a), (b, owner_b)):
        await user_api.member(tenant, owner, "owner")
        await user_api.member(tenant, person, "member")
    async with user_api.client(person, a, "member") as client:
        answer = await client.patch("/users/me", json={"display_name": "Zebulon Thackeray"})
        assert answer.status_code == 200, answer.text
    async with user_api.client(owner_b, b, "owner") as client:
        # The other tenant's copy was renamed by the same transaction: its words too.
        assert await _names(client, search="thack") == ["Zebulon Thackeray"]
        assert await _names(client, search="zeb tha") == ["Zebulon Thackeray"]
        assert await _names(client, search="tha zeb") == ["Zebulon Thackeray"]
        assert "Zebulon Thackeray" not in await _names(client, search="wilhel")
        # The address is a word as a whole: its prefix with the punctuation.
        assert await _names(client, search=f"wq-{a.hex[:4]}") == ["Zebulon Thackeray"]


async def test_a_search_finds_no_member_of_another_tenant(user_api: UserApi) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    owner_a = await user_api.profile("Owner A")
    stranger = await user_api.profile("Ottoline Brackenbury")
    await user_api.member(a, owner_a, "owner")
    await user_api.member(b, stranger, "owner")
    async with user_api.client(owner_a, a, "owner") as client:
        assert await _names(client, search="brack") == []
        assert await _names(client, search="ottoline brackenbury") == []
        assert await _names(client, search="brakenbury") == []  # nor by a typo


async def test_words_are_bound_to_the_transactions_tenant(
    user_api: UserApi, app_engine: AsyncEngine
) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    in_a, in_b = (
        await user_api.profile("Aurelio Ashdown"),
        await user_api.profile("Bea Bellweather"),
    )
    await user_api.member(a, in_a, "owner")
    await user_api.member(b, in_b, "owner")
    sessions = session_factory(app_engine)
    async with transaction(sessions, a, user_id=in_a) as session:
        seen = set(
            (await session.execute(text("SELECT DISTINCT tenant_id FROM users.directory_words")))
            .scalars()
            .all()
        )
        changed = await session.execute(
            text("DELETE FROM users.directory_words WHERE tenant_id = :b"), {"b": b}
        )
    assert seen == {a}
    assert changed.rowcount == 0  # type: ignore[attr-defined]
    async with transaction(sessions) as session:  # no tenant: no words at all
        assert await session.scalar(text("SELECT count(*) FROM users.directory_words")) == 0
    # A word planted into another tenant (a search hit there) is refused.
    with pytest.raises(DBAPIError):
        async with transaction(sessions, a, user_id=in_a) as session:
            await session.execute(
                text(
                    "INSERT INTO users.directory_words (tenant_id, word, user_id)"
                    " VALUES (:b, 'planted', :user)"
                ),
                {"b": b, "user": in_a},
            )
    async with user_api.client(in_b, b, "owner") as client:
        assert await _names(client, search="bellw") == ["Bea Bellweather"]
        assert await _names(client, search="planted") == []
