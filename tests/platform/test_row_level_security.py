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


# --- the tenant tables of issue 8: roles, invitations, domains, and the tenant row itself -------


@pytest.fixture
async def tenant_rows(settings: Settings) -> dict[str, uuid.UUID]:
    """Tenants a and b, each with a role, an invitation and a domain, and a user of a only
    (written by the owner role, as migrations and provisioning would)."""
    owner = create_async_engine(settings.owner_database_url(ServiceName.tenant))
    sessions = session_factory(owner)
    ids = {"a": uuid.uuid4(), "b": uuid.uuid4(), "user": uuid.uuid4()}
    for name in ("a", "b"):
        tenant = ids[name]
        async with transaction(sessions, tenant) as session:
            await session.execute(
                text(
                    "INSERT INTO tenants.tenants (id, slug, name, created_by, idempotency_key)"
                    " VALUES (:id, :slug, 'T', :id, :key)"
                ),
                {"id": tenant, "slug": f"t-{tenant.hex[:12]}", "key": f"test:{tenant}"},
            )
            params = {"tenant": tenant, "id": uuid.uuid4()}
            await session.execute(
                text(
                    "INSERT INTO tenants.roles (id, tenant_id, name, permissions)"
                    " VALUES (:id, :tenant, 'custom', '{files.read}')"
                ),
                params,
            )
            await session.execute(
                text(
                    "INSERT INTO tenants.invitations (id, tenant_id, email, role, inviter_id,"
                    " token_hash, expires_at) VALUES (:id, :tenant, 'x@example.com', 'member',"
                    " :id, :hash, now() + interval '1 day')"
                ),
                {"tenant": tenant, "id": uuid.uuid4(), "hash": uuid.uuid4().hex * 2},
            )
            await session.execute(
                text(
                    "INSERT INTO tenants.domains (id, tenant_id, domain, txt_token)"
                    " VALUES (:id, :tenant, :domain, 'tok')"
                ),
                {"tenant": tenant, "id": uuid.uuid4(), "domain": f"{tenant.hex}.example"},
            )
            if name == "a":
                await session.execute(
                    text(
                        "INSERT INTO tenants.memberships (id, tenant_id, user_id, role) "
                        "VALUES (:id, :tenant, :user, 'member')"
                    ),
                    {"id": uuid.uuid4(), "tenant": tenant, "user": ids["user"]},
                )
    await owner.dispose()
    return ids


@pytest.mark.parametrize("table", ["roles", "invitations", "domains"])
async def test_new_tenant_tables_show_only_the_current_tenant(
    app_engine: AsyncEngine, tenant_rows: dict[str, uuid.UUID], table: str
) -> None:
    a, b = tenant_rows["a"], tenant_rows["b"]
    sessions = session_factory(app_engine)
    async with transaction(sessions, a, user_id=tenant_rows["user"]) as session:
        seen = set(
            (await session.execute(text(f"SELECT tenant_id FROM tenants.{table}"))).scalars()
        )
        updated = await session.execute(
            text(f"UPDATE tenants.{table} SET updated_at = now() WHERE tenant_id = :b"),
            {"b": b},
        )
    assert a in seen and b not in seen
    assert updated.rowcount == 0  # type: ignore[attr-defined]
    async with transaction(sessions) as session:
        assert await session.scalar(text(f"SELECT count(*) FROM tenants.{table}")) == 0


async def test_a_user_sees_only_the_tenants_they_belong_to(
    app_engine: AsyncEngine, tenant_rows: dict[str, uuid.UUID]
) -> None:
    a, b, user = tenant_rows["a"], tenant_rows["b"], tenant_rows["user"]
    sessions = session_factory(app_engine)
    # No tenant in the transaction: the own-rows policy alone shows the user's tenant a.
    async with transaction(sessions, user_id=user) as session:
        visible = set((await session.execute(text("SELECT id FROM tenants.tenants"))).scalars())
    assert a in visible and b not in visible
    # Scoped to b, the user still sees b (the transaction's tenant) and a (a member), nothing else.
    async with transaction(sessions, b, user_id=user) as session:
        visible = set((await session.execute(text("SELECT id FROM tenants.tenants"))).scalars())
    assert visible == {a, b}
    # A stranger sees none of them; the tenant row of b cannot be changed from a.
    async with transaction(sessions, user_id=uuid.uuid4()) as session:
        assert await session.scalar(text("SELECT count(*) FROM tenants.tenants")) == 0
    async with transaction(sessions, a, user_id=user) as session:
        changed = await session.execute(
            text("UPDATE tenants.tenants SET name = 'x' WHERE id = :b"), {"b": b}
        )
    assert changed.rowcount == 0  # type: ignore[attr-defined]


# --- the users schema of issue 9: the directory copy and preferences ---------------------------


@pytest.fixture
async def user_app_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """Connected as the application role, exactly as the user service is."""
    engine = create_async_engine(settings.app_database_url(ServiceName.user))
    yield engine
    await engine.dispose()


@pytest.fixture
async def user_rows(settings: Settings) -> dict[str, uuid.UUID]:
    """Tenants a and b each with a directory entry of ``user`` and of a stranger, and ``user``'s
    and the stranger's preferences (user-level and per tenant), written by the owner role."""
    owner = create_async_engine(settings.owner_database_url(ServiceName.user))
    sessions = session_factory(owner)
    ids = {"a": uuid.uuid4(), "b": uuid.uuid4(), "user": uuid.uuid4(), "other": uuid.uuid4()}
    for person in ("user", "other"):
        async with transaction(sessions, user_id=ids[person]) as session:
            await session.execute(
                text(
                    "INSERT INTO users.preferences (id, user_id, schema_version, values)"
                    " VALUES (:id, :user, 1, '{}')"
                ),
                {"id": uuid.uuid4(), "user": ids[person]},
            )
    for name in ("a", "b"):
        async with transaction(sessions, ids[name]) as session:
            for person in ("user", "other"):
                await session.execute(
                    text(
                        "INSERT INTO users.directory (tenant_id, user_id, role, status, joined_at,"
                        " display_name, email) VALUES (:tenant, :user, 'member', 'active', now(),"
                        " 'N', 'n@example.com')"
                    ),
                    {"tenant": ids[name], "user": ids[person]},
                )
                await session.execute(
                    text(
                        "INSERT INTO users.preferences (id, user_id, tenant_id, schema_version,"
                        " values) VALUES (:id, :user, :tenant, 1, '{}')"
                    ),
                    {"id": uuid.uuid4(), "user": ids[person], "tenant": ids[name]},
                )
    await owner.dispose()
    return ids


@pytest.mark.parametrize("table", ["directory", "preferences"])
async def test_users_tables_show_only_the_current_tenant(
    user_app_engine: AsyncEngine, user_rows: dict[str, uuid.UUID], table: str
) -> None:
    a, b, other = user_rows["a"], user_rows["b"], user_rows["other"]
    sessions = session_factory(user_app_engine)
    # Another user of tenant a: a's rows, and their own user-level preferences, nothing of b.
    async with transaction(sessions, a, user_id=uuid.uuid4()) as session:
        seen = set((await session.execute(text(f"SELECT tenant_id FROM users.{table}"))).scalars())
        updated = await session.execute(
            text(f"UPDATE users.{table} SET updated_at = now() WHERE tenant_id = :b"), {"b": b}
        )
        deleted = await session.execute(
            text(f"DELETE FROM users.{table} WHERE tenant_id = :b OR tenant_id IS NULL"),
            {"b": b},
        )
    assert seen == {a}
    assert updated.rowcount == 0 and deleted.rowcount == 0  # type: ignore[attr-defined]
    # No tenant, no user: nothing at all.
    async with transaction(sessions) as session:
        assert await session.scalar(text(f"SELECT count(*) FROM users.{table}")) == 0
    # Writing into another tenant is refused.
    async with transaction(sessions, a, user_id=other) as session:
        with pytest.raises(DBAPIError):
            await session.execute(
                text(
                    "INSERT INTO users.directory (tenant_id, user_id, role, status, joined_at)"
                    " VALUES (:b, :user, 'owner', 'active', now())"
                    if table == "directory"
                    else "INSERT INTO users.preferences (id, user_id, tenant_id, schema_version,"
                    " values) VALUES (gen_random_uuid(), :user, :b, 1, '{}')"
                ),
                {"b": b, "user": uuid.uuid4()},
            )


async def test_own_directory_entries_and_preferences_across_tenants(
    user_app_engine: AsyncEngine, user_rows: dict[str, uuid.UUID]
) -> None:
    a, b, user, other = (user_rows[k] for k in ("a", "b", "user", "other"))
    sessions = session_factory(user_app_engine)
    async with transaction(sessions, a, user_id=user) as session:
        result = await session.execute(
            text("SELECT tenant_id, user_id FROM users.directory WHERE tenant_id = :b"), {"b": b}
        )
        entries = {(row[0], row[1]) for row in result}
        # Their own entry in b (own names refreshed there), nobody else's.
        assert entries == {(b, user)}
        renamed = await session.execute(
            text("UPDATE users.directory SET display_name = 'M' WHERE tenant_id = :b"), {"b": b}
        )
        assert renamed.rowcount == 1  # type: ignore[attr-defined]
        own = set(
            (
                await session.execute(
                    text("SELECT user_id FROM users.preferences WHERE tenant_id IS NULL")
                )
            ).scalars()
        )
        assert own == {user}
        # Their own entry cannot be moved into another user's name.
        with pytest.raises(DBAPIError):
            async with session.begin_nested():
                await session.execute(
                    text(
                        "UPDATE users.directory SET user_id = :other "
                        "WHERE tenant_id = :b AND user_id = :user"
                    ),
                    {"b": b, "other": other, "user": user},
                )


# --- the files schema of issue 10: file rows and storage policies -------------------------------


@pytest.fixture
async def file_app_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(settings.app_database_url(ServiceName.file))
    yield engine
    await engine.dispose()


#: file_processing's record and thumbnail of a file (files_0003) and a share of it (files_0005),
#: inserted for a tenant.
FILE_PROCESSING_ROWS = {
    "file_processing": "INSERT INTO files.file_processing (tenant_id, file_id, status)"
    " VALUES (:tenant, gen_random_uuid(), 'done')",
    "file_renditions": "INSERT INTO files.file_renditions"
    " (tenant_id, file_id, size, width, height, content_type, blob_key, sha256)"
    " VALUES (:tenant, gen_random_uuid(), 128, 1, 1, 'image/webp', 'k', :sha)",
    # files_0005: a share of the tenant's file (the only file its transaction sees).
    "file_shares": "INSERT INTO files.file_shares (id, tenant_id, file_id, kind, permission)"
    " VALUES (gen_random_uuid(), :tenant, (SELECT id FROM files.files LIMIT 1), 'tenant', 'viewer')",
}


@pytest.fixture
async def file_rows(settings: Settings) -> tuple[uuid.UUID, uuid.UUID]:
    """A file and a storage policy in each of two tenants, written by the owner role."""
    owner = create_async_engine(settings.owner_database_url(ServiceName.file))
    sessions = session_factory(owner)
    a, b = uuid.uuid4(), uuid.uuid4()
    for tenant in (a, b):
        async with transaction(sessions, tenant) as session:
            await session.execute(
                text(
                    "INSERT INTO files.files (id, tenant_id, name, blob_key, size, sha256, status)"
                    " VALUES (:id, :tenant, 'f.txt', 'k', 1, :sha, 'ready')"
                ),
                {"id": uuid.uuid4(), "tenant": tenant, "sha": "0" * 64},
            )
            await session.execute(
                text(
                    "INSERT INTO files.storage_policies (tenant_id, quota_bytes)"
                    " VALUES (:tenant, 1024)"
                ),
                {"tenant": tenant},
            )
            for statement in FILE_PROCESSING_ROWS.values():
                await session.execute(text(statement), {"tenant": tenant, "sha": "0" * 64})
    await owner.dispose()
    return a, b


@pytest.mark.parametrize("table", ["files", "storage_policies", *FILE_PROCESSING_ROWS])
async def test_files_tables_show_only_the_current_tenant(
    file_app_engine: AsyncEngine, file_rows: tuple[uuid.UUID, uuid.UUID], table: str
) -> None:
    a, b = file_rows
    sessions = session_factory(file_app_engine)
    async with transaction(sessions, a, user_id=uuid.uuid4()) as session:
        seen = set((await session.execute(text(f"SELECT tenant_id FROM files.{table}"))).scalars())
        updated = await session.execute(
            text(f"UPDATE files.{table} SET tenant_id = :a WHERE tenant_id = :b"), {"a": a, "b": b}
        )
        deleted = await session.execute(
            text(f"DELETE FROM files.{table} WHERE tenant_id = :b"), {"b": b}
        )
    assert seen == {a}, f"tenant {a} saw rows of {seen - {a}}"
    assert updated.rowcount == 0 and deleted.rowcount == 0  # type: ignore[attr-defined]
    async with transaction(sessions) as session:
        assert await session.scalar(text(f"SELECT count(*) FROM files.{table}")) == 0
    with pytest.raises(DBAPIError, match="row-level security"):
        async with transaction(sessions, a) as session:
            await session.execute(
                text(
                    "INSERT INTO files.files (id, tenant_id, name, blob_key, size, sha256)"
                    " VALUES (gen_random_uuid(), :tenant, 'x', 'k', 1, :sha)"
                    if table == "files"
                    else FILE_PROCESSING_ROWS.get(
                        table,
                        "INSERT INTO files.storage_policies (tenant_id, quota_bytes)"
                        " VALUES (:tenant, 1)",
                    )
                ),
                {"tenant": b, "sha": "0" * 64},
            )


# --- the users schema's bulk operations (bulk_user_operation) ----------------------------------


@pytest.mark.parametrize("table", ["bulk_operations", "bulk_operation_rows"])
async def test_bulk_operation_tables_show_only_the_current_tenant(
    settings: Settings, user_app_engine: AsyncEngine, table: str
) -> None:
    """A bulk operation and its rows (addresses, results) of tenant b are invisible, unchangeable
    and unwritable from tenant a, and from a transaction of no tenant."""
    owner = create_async_engine(settings.owner_database_url(ServiceName.user))
    a, b = uuid.uuid4(), uuid.uuid4()
    for tenant in (a, b):
        async with transaction(session_factory(owner), tenant) as session:
            await session.execute(
                text(
                    "INSERT INTO users.bulk_operations (id, tenant_id, kind, actor_id, workflow_id,"
                    " status, total) VALUES (:id, :tenant, 'import', :id, :wid, 'running', 1)"
                ),
                {"id": tenant, "tenant": tenant, "wid": f"bulk-user-operation-{tenant}"},
            )
            await session.execute(
                text(
                    "INSERT INTO users.bulk_operation_rows (operation_id, row_number, tenant_id,"
                    " data, status) VALUES (:id, 1, :id, '{\"email\": \"x@b.example\"}', 'done')"
                ),
                {"id": tenant},
            )
    await owner.dispose()
    sessions = session_factory(user_app_engine)
    async with transaction(sessions, a, user_id=uuid.uuid4()) as session:
        seen = set((await session.execute(text(f"SELECT tenant_id FROM users.{table}"))).scalars())
        updated = await session.execute(
            text(f"UPDATE users.{table} SET status = 'cancelled' WHERE tenant_id = :b"), {"b": b}
        )
        deleted = await session.execute(
            text(f"DELETE FROM users.{table} WHERE tenant_id = :b"), {"b": b}
        )
    assert a in seen and b not in seen
    assert updated.rowcount == 0 and deleted.rowcount == 0  # type: ignore[attr-defined]
    async with transaction(sessions) as session:
        assert await session.scalar(text(f"SELECT count(*) FROM users.{table}")) == 0
    async with transaction(sessions, a, user_id=uuid.uuid4()) as session:
        with pytest.raises(DBAPIError):
            await session.execute(
                text(
                    "INSERT INTO users.bulk_operations (id, tenant_id, kind, actor_id, workflow_id,"
                    " status, total) VALUES (:id, :b, 'import', :id, :wid, 'running', 1)"
                    if table == "bulk_operations"
                    else "INSERT INTO users.bulk_operation_rows (operation_id, row_number,"
                    " tenant_id, data, status) VALUES (:b, 2, :b, '{}', 'done')"
                ),
                {"id": uuid.uuid4(), "b": b, "wid": f"w-{uuid.uuid4()}"},
            )
