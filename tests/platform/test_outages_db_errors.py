"""What the engines make of a database that cannot serve a session (storage/db.py; issue 13,
"stop PostgreSQL"): a refused connection slot (SQLSTATE 53300; the same path as "the database
system is shutting down", 57P03) is ``DatabaseUnavailableError``, and a session the server ends
under a statement (57P01, as a fast shutdown does) invalidates the connection instead of handing
it to the next request. On the test run's PostgreSQL, with no server stopped."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from services.common.settings import Settings
from storage.db import DatabaseUnavailableError, create_engine


@pytest.fixture
async def no_slot_url(settings: Settings) -> AsyncIterator[str]:
    """A role that may hold no connection at all (``CONNECTION LIMIT 0``)."""
    url = make_url(settings.database_url)
    role, password = f"adx_no_slot_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}' CONNECTION LIMIT 0")
    try:
        yield url.set(username=role, password=password).render_as_string(hide_password=False)
    finally:
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()


async def test_a_server_refusing_the_session_is_database_unavailable(no_slot_url: str) -> None:
    engine = create_engine(no_slot_url, pool_size=1)
    try:
        with pytest.raises(DatabaseUnavailableError, match="53300"):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


async def test_a_session_ended_by_the_server_invalidates_its_connection(settings: Settings) -> None:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as ended:
                await conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
            assert ended.value.connection_invalidated, ended.value
        async with engine.connect() as conn:  # the pool's next connection is a fresh one
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()
