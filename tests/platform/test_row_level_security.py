"""Tenant isolation: the repository scopes queries, and PostgreSQL RLS stops even unscoped SQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.common.settings import ServiceName, Settings
from storage.db import session_factory, transaction
from storage.tenants.models import Membership
from storage.tenants.repository import MembershipRepository


@pytest.fixture
async def app_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """Connected as the application role, exactly as the tenant service is."""
    engine = create_async_engine(settings.app_database_url(ServiceName.tenant))
    yield engine
    await engine.dispose()


@pytest.fixture
async def two_tenants(settings: Settings) -> tuple[uuid.UUID, uuid.UUID]:
    """Two tenants with one membership each, written by the owner (migrations) role."""
    owner = create_async_engine(settings.owner_database_url(ServiceName.tenant))
    a, b = uuid.uuid4(), uuid.uuid4()
    sessions = session_factory(owner)
    for tenant in (a, b):
        async with transaction(sessions, tenant) as session:
            await session.execute(
                text(
                    "INSERT INTO tenants.tenants (id, slug, name, created_by, idempotency_key)"
                    " VALUES (:id, :slug, 'T', :id, :key)"
                ),
                {"id": tenant, "slug": f"t-{tenant.hex[:12]}", "key": f"test:{tenant}"},
            )
            await session.execute(
                text(
                    "INSERT INTO tenants.memberships (id, tenant_id, user_id, role) "
                    "VALUES (:id, :tenant, :user, 'member')"
                ),
                {"id": uuid.uuid4(), "tenant": tenant, "user": uuid.uuid4()},
            )
    await owner.dispose()
    return a, b


async def test_application_role_cannot_bypass_rls(app_engine: AsyncEngine) -> None:
    async with app_engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
    assert tuple(row) == (False, False)


async def test_unscoped_query_sees_only_the_current_tenant(
    app_engine: AsyncEngine, two_tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    a, _ = two_tenants
    sessions = session_factory(app_engine)

    async with transaction(sessions, a) as session:
        # Deliberately no tenant filter: RLS must do the filtering.
        tenants = set(
            (await session.execute(text("SELECT tenant_id FROM tenants.memberships"))).scalars()
        )

    assert tenants == {a}, f"tenant {a} saw rows of {tenants - {a}}"


async def test_no_tenant_set_means_no_rows(
    app_engine: AsyncEngine, two_tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    async with transaction(session_factory(app_engine)) as session:
        count = await session.scalar(text("SELECT count(*) FROM tenants.memberships"))
    assert count == 0


async def test_cannot_write_into_another_tenant(
    app_engine: AsyncEngine, two_tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    a, b = two_tenants
    with pytest.raises(DBAPIError, match="row-level security"):
        async with transaction(session_factory(app_engine), a) as session:
            await session.execute(
                text(
                    "INSERT INTO tenants.memberships (id, tenant_id, user_id, role) "
                    "VALUES (:id, :tenant, :user, 'owner')"
                ),
                {"id": uuid.uuid4(), "tenant": b, "user": uuid.uuid4()},
            )


async def test_cannot_update_rows_of_another_tenant(
    app_engine: AsyncEngine, two_tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    a, b = two_tenants
    async with transaction(session_factory(app_engine), a) as session:
        result = await session.execute(
            text("UPDATE tenants.memberships SET role = 'owner' WHERE tenant_id = :b"), {"b": b}
        )
    assert result.rowcount == 0  # type: ignore[attr-defined]


async def test_repository_scopes_reads_and_stamps_writes(
    app_engine: AsyncEngine, two_tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    a, b = two_tenants
    sessions = session_factory(app_engine)
    async with transaction(sessions, a) as session:
        repo = MembershipRepository(session, a)
        added = await repo.add(Membership(tenant_id=b, user_id=uuid.uuid4(), role="member"))
        rows = await repo.list()

    assert added.tenant_id == a, "repository must stamp its own tenant on new rows"
    assert {r.tenant_id for r in rows} == {a}
    async with transaction(sessions, b) as session:
        assert await MembershipRepository(session, b).get(added.id) is None
