"""Apply every service schema's migrations and (re)grant the application role: ``adx migrate``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from structlog.stdlib import get_logger

MIGRATIONS = Path(__file__).parent / "migrations"
_log = get_logger(__name__)


class Secret(Protocol):
    def get_secret_value(self) -> str: ...


class MigrationSettings(Protocol):
    """What ``migrate`` reads from the platform's settings (``services.common.settings``)."""

    @property
    def database_app_role(self) -> str: ...

    @property
    def database_app_password(self) -> Secret: ...

    def schema_owner_urls(self) -> Mapping[str, str]:
        """Each service's PostgreSQL schema and the owner URL of the database it lives in."""
        ...


def alembic_config(schema: str, connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("version_locations", str(MIGRATIONS / "versions" / schema))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes.update(connection=connection, schema=schema)
    return cfg


def _upgrade_to_head(connection: Connection, schema: str) -> None:
    command.upgrade(alembic_config(schema, connection), "head")


async def ensure_database(owner_url: str) -> None:
    """Create the target database when missing (connecting to the ``postgres`` database)."""
    url = make_url(owner_url)
    admin = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            )
            if not exists:
                try:
                    await conn.execute(text(f'CREATE DATABASE "{url.database}"'))
                except DBAPIError as error:  # created concurrently by another migrator
                    if "already exists" not in str(error):
                        raise
    finally:
        await admin.dispose()


async def ensure_app_role(conn: AsyncConnection, role: str, password: str) -> None:
    """The login role services use: never superuser, never BYPASSRLS (so RLS always applies)."""
    exists = await conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
    if not exists:
        try:
            await conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        except DBAPIError as error:  # roles are cluster-wide; a parallel run may have made it
            if "already exists" not in str(error):
                raise
    quoted = password.replace("'", "''")
    await conn.execute(
        text(f"ALTER ROLE \"{role}\" LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '{quoted}'")
    )


async def grant_app_role(conn: AsyncConnection, schema: str, role: str) -> None:
    await conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
    await conn.execute(
        text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')
    )
    await conn.execute(text(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"'))
    # The version table is the migrator's business only.
    await conn.execute(text(f'REVOKE ALL ON "{schema}".alembic_version FROM "{role}"'))


async def migrate(settings: MigrationSettings) -> None:
    role = settings.database_app_role
    password = settings.database_app_password.get_secret_value()
    for schema, owner_url in settings.schema_owner_urls().items():
        await ensure_database(owner_url)
        engine = create_async_engine(owner_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                await ensure_app_role(conn, role, password)
                await conn.run_sync(_upgrade_to_head, schema)
                await grant_app_role(conn, schema, role)
        finally:
            await engine.dispose()
        _log.info("schema_migrated", schema=schema)
