"""Async SQLAlchemy engines and sessions; every transaction carries the tenant for row-level security."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

from sqlalchemy import event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError as IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# The database types the layers above storage name: domain services, the gateway and the
# resolvers import no sqlalchemy (pyproject.toml, contract "no-sqlalchemy-above-storage"); they
# reach the database through storage's repositories and these names.
#: One database session (a unit of work's connection and identity map).
DbSession: TypeAlias = AsyncSession
#: A connection outside the ORM (``single_statements``).
DbConnection: TypeAlias = AsyncConnection
#: The factory of database sessions a process holds (``Resources.database``).
Database: TypeAlias = async_sessionmaker[AsyncSession]

#: The per-transaction PostgreSQL setting that RLS policies compare ``tenant_id`` against.
TENANT_SETTING = "adx.tenant_id"
#: The acting user, for the few policies that let a user see their own rows in every tenant
#: (their memberships, the tenants they belong to): ``storage/migrations/rls.py``.
ACTOR_SETTING = "adx.user_id"
#: Longest wait for a new connection (asyncpg's own default is 60 s): a database that does not
#: accept one in this long is away, and the request waiting for it says so (a 503).
CONNECT_TIMEOUT_SECONDS = 5.0
#: SQLSTATEs of a server that cannot serve a session now: class 08 (connection exception),
#: 57P0x (shutting down, crashed, starting up: "the database system is shutting down"),
#: 53300 (no free connection slot).
_UNAVAILABLE_SQLSTATES = ("08", "57P", "53300")


class DatabaseUnavailableError(Exception):
    """No connection to the database could be made: refused (server stopped), timed out, or
    the server is starting up, shutting down or out of connection slots. The database is away,
    not the statement wrong: an HTTP route answers 503 and an activity is retried.

    A connection lost in the middle of a statement (the server ended the session, SQLSTATE
    57P01) stays SQLAlchemy's ``DBAPIError``, with ``connection_invalidated`` set (asyncpg
    reports the connection closed, and the pool drops its other connections of that server)."""


def _sqlstate(error: BaseException) -> str:
    code = getattr(error, "sqlstate", None)  # asyncpg's errors and SQLAlchemy's adaptation
    return code if isinstance(code, str) else ""


def _unavailable(error: BaseException) -> bool:
    # OSError: refused, unreachable, timed out (TimeoutError is one)
    return isinstance(error, OSError) or _sqlstate(error).startswith(_UNAVAILABLE_SQLSTATES)


def _connect_or_unavailable(
    dialect: Dialect, _record: object, cargs: tuple[object, ...], cparams: dict[str, object]
) -> object:
    """The ``do_connect`` of every engine: the driver's connect, its "database away" failures
    raised as ``DatabaseUnavailableError`` (SQLAlchemy passes a refused connection through as
    the bare ``ConnectionRefusedError``, and "shutting down" as a plain ``DBAPIError``)."""
    try:
        return dialect.connect(*cargs, **cparams)
    except Exception as error:
        if _unavailable(error):
            raise DatabaseUnavailableError(
                f"cannot connect to the database ({type(error).__name__} {_sqlstate(error)})"
            ) from error
        raise


def create_engine(url: str, *, pool_size: int = 10, application_name: str = "adx") -> AsyncEngine:
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No pre-ping (it costs a round trip per checkout on every request); connections are
        # recycled instead, and one broken by a database restart surfaces as a 503.
        pool_pre_ping=False,
        pool_recycle=1800,
        # Statement parameters (password hashes, e-mail addresses, token digests) never appear
        # in DBAPI error messages, which end up in logs and traces.
        hide_parameters=True,
        connect_args={
            "server_settings": {"application_name": application_name},
            "timeout": CONNECT_TIMEOUT_SECONDS,
        },
    )
    event.listen(engine.sync_engine, "do_connect", _connect_or_unavailable)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def set_tenant(session: AsyncSession, tenant_id: uuid.UUID | None) -> None:
    """Scope the current transaction to ``tenant_id`` (``None``: no tenant, so no tenant rows)."""
    await session.execute(
        text("SELECT set_config(:name, :value, true)"),
        {"name": TENANT_SETTING, "value": str(tenant_id) if tenant_id else ""},
    )


async def set_scope(session: AsyncSession, tenant_id: uuid.UUID | None, user_id: uuid.UUID) -> None:
    """Scope the transaction to ``tenant_id`` and name the acting user (``ACTOR_SETTING``), in
    one statement: a request's transaction pays one round trip for both."""
    await session.execute(
        text("SELECT set_config(:tenant, :tenant_id, true), set_config(:actor, :user_id, true)"),
        {
            "tenant": TENANT_SETTING,
            "tenant_id": str(tenant_id) if tenant_id else "",
            "actor": ACTOR_SETTING,
            "user_id": str(user_id),
        },
    )


@asynccontextmanager
async def tenant_scope(session: AsyncSession, tenant_id: uuid.UUID) -> AsyncIterator[AsyncSession]:
    """Inside an open transaction, scope it to ``tenant_id`` for the block only, then back to
    the tenant it had (the acting user stays). For the one read a caller may make of a tenant
    that is not their token's (their own role in a suspended tenant, ``services/tenant/access``):
    the caller must have proved their membership first."""
    previous = await session.scalar(
        text("SELECT current_setting(:name, true)"), {"name": TENANT_SETTING}
    )
    await set_tenant(session, tenant_id)
    try:
        yield session
    finally:
        await session.execute(
            text("SELECT set_config(:name, :value, true)"),
            {"name": TENANT_SETTING, "value": previous or ""},
        )


@asynccontextmanager
async def transaction(
    database: async_sessionmaker[AsyncSession],
    tenant_id: uuid.UUID | None = None,
    *,
    user_id: uuid.UUID | None = None,
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on error, tenant (and, if given, the
    acting user) set for its whole length."""
    async with database() as session, session.begin():
        # set_config(..., true) is transaction-local, so a transaction without a tenant starts
        # with none (RLS then shows no tenant rows); no statement is needed for that case.
        if user_id is not None:
            await set_scope(session, tenant_id, user_id)
        elif tenant_id is not None:
            await set_tenant(session, tenant_id)
        yield session


def engine_of(database: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The engine a session factory binds to."""
    bind = database.kw.get("bind")
    if not isinstance(bind, AsyncEngine):
        raise TypeError("the session factory is not bound to an AsyncEngine")
    return bind


@asynccontextmanager
async def single_statements(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in autocommit mode, for hot paths whose every statement is a whole unit of
    work on its own (PostgreSQL runs one statement atomically, data-modifying CTEs included):
    no BEGIN and COMMIT round trips, no ORM session. Not for work that spans statements, nor for
    tenant-scoped reads (no transaction to carry ``adx.tenant_id``)."""
    async with engine.connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
