"""Database errors never carry the statement's parameters (hashes, addresses, token digests):
they reach logs and traces through exception text."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.common.settings import Settings
from storage.db import create_engine


async def test_a_failing_statement_does_not_echo_its_parameters(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    planted = "planted-parameter-value-1234"
    try:
        with pytest.raises(DBAPIError) as raised:
            async with engine.connect() as connection:
                await connection.execute(
                    text("SELECT CAST(:value AS int) FROM no_such_table"), {"value": planted}
                )
    finally:
        await engine.dispose()

    assert "parameters hidden" in str(raised.value)
    assert planted not in str(raised.value)
