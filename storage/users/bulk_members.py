"""The user service's rows of a bulk import's batch (``user.bulk_prepare_members``): profiles,
default preferences, first-run set-ups and directory entries written a batch at a time, a few
statements for the whole batch (the user's own preferences one statement a row: see
``put_own_defaults``). Each batch insert is ``INSERT ... SELECT unnest(...)``: one array per
column, so the statement is the same for every batch size (compiled once, cached) and the rows
travel as a few array parameters."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String, Text, cast, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID, insert
from sqlalchemy.sql.expression import Subquery
from sqlalchemy.types import TypeEngine

from storage.db import ACTOR_SETTING, DbSession
from storage.users.models import (
    BulkOperationRow,
    DirectoryEntry,
    FirstRun,
    Preferences,
    Profile,
)

_ID = UUID(as_uuid=True)


def _columns(**columns: tuple[Sequence[Any], TypeEngine[Any]]) -> Subquery:
    """``SELECT unnest(:a::type[]) AS a, unnest(:b::type[]) AS b, ...``: the arrays side by
    side, one row per index."""
    return select(
        *(
            func.unnest(cast(list(values), ARRAY(kind))).label(name)
            for name, (values, kind) in columns.items()
        )
    ).subquery()


@dataclass(frozen=True)
class NewProfile:
    id: uuid.UUID
    email: str
    display_name: str
    #: Filled only where the profile has none (an existing person's profile is completed).
    given_name: str | None
    family_name: str | None
    locale: str | None
    time_zone: str | None
    idempotency_key: str


@dataclass(frozen=True)
class NewEntry:
    user_id: uuid.UUID
    role: str
    display_name: str
    email: str
    name_text: str


async def rows_by_number(
    session: DbSession, tenant_id: uuid.UUID, operation_id: uuid.UUID, numbers: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """The uploaded fields of the operation's rows ``numbers``."""
    if not numbers:
        return {}
    result = await session.execute(
        select(BulkOperationRow.row_number, BulkOperationRow.data).where(
            BulkOperationRow.tenant_id == tenant_id,
            BulkOperationRow.operation_id == operation_id,
            BulkOperationRow.row_number.in_(list(numbers)),
        )
    )
    return {number: data for number, data in result.all()}


async def first_runs_of(
    session: DbSession, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, FirstRun]:
    if not user_ids:
        return {}
    result = await session.scalars(
        select(FirstRun).where(FirstRun.tenant_id == tenant_id, FirstRun.user_id.in_(user_ids))
    )
    return {row.user_id: row for row in result}


async def create_profiles(session: DbSession, profiles: Sequence[NewProfile]) -> set[uuid.UUID]:
    """Each profile inserted unless the person has one; the missing optional fields of those
    who had one filled in. The ids of the profiles created."""
    if not profiles:
        return set()
    source = _columns(
        id=([p.id for p in profiles], _ID),
        email=([p.email for p in profiles], String()),
        display_name=([p.display_name for p in profiles], String()),
        given_name=([p.given_name for p in profiles], String()),
        family_name=([p.family_name for p in profiles], String()),
        locale=([p.locale for p in profiles], String()),
        time_zone=([p.time_zone for p in profiles], String()),
        idempotency_key=([p.idempotency_key for p in profiles], String()),
    )
    names = [c.name for c in source.c]
    created = await session.scalars(
        insert(Profile)
        .from_select(names, select(*source.c))
        .on_conflict_do_nothing()
        .returning(Profile.id)
    )
    made = set(created)
    for p in profiles:
        fields = {"given_name": p.given_name, "family_name": p.family_name}
        fields |= {"locale": p.locale, "time_zone": p.time_zone}
        given = {k: v for k, v in fields.items() if v is not None}
        if p.id in made or not given:
            continue
        # Rare (a person with a profile already): one statement each, only empty fields.
        await session.execute(
            update(Profile)
            .where(Profile.id == p.id)
            .values({k: func.coalesce(getattr(Profile, k), v) for k, v in given.items()})
            .execution_options(synchronize_session=False)
        )
    return made


async def profiles_of(session: DbSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Profile]:
    if not ids:
        return {}
    result = await session.scalars(
        select(Profile).where(Profile.id.in_(ids)).execution_options(populate_existing=True)
    )
    return {row.id: row for row in result}


async def put_tenant_defaults(
    session: DbSession,
    tenant_id: uuid.UUID,
    user_ids: Sequence[uuid.UUID],
    *,
    schema_version: int,
    values: dict[str, Any],
) -> set[uuid.UUID]:
    """The tenant scope's defaults stored for those of ``user_ids`` with none; who got them."""
    if not user_ids:
        return set()
    source = _columns(id=([uuid.uuid4() for _ in user_ids], _ID), user_id=(list(user_ids), _ID))
    rows = select(
        source.c.id,
        source.c.user_id,
        cast(tenant_id, _ID),
        cast(schema_version, Preferences.schema_version.type),
        cast(values, JSONB),
    )
    created = await session.scalars(
        insert(Preferences)
        .from_select(["id", "user_id", "tenant_id", "schema_version", "values"], rows)
        .on_conflict_do_nothing(
            index_elements=["tenant_id", "user_id"], index_where=text("tenant_id IS NOT NULL")
        )
        .returning(Preferences.user_id)
    )
    return set(created)


_OWN_DEFAULTS = text(
    # The row-level policy of a user's own preferences checks the acting user (ACTOR_SETTING),
    # so each row is written as that user: the CTE sets it before the row is inserted and
    # checked. One statement a row; ``restore_actor`` puts the transaction's actor back.
    "WITH actor AS MATERIALIZED (SELECT set_config(:setting, :user_id, true) AS v) "
    "INSERT INTO users.preferences (id, user_id, tenant_id, schema_version, values) "
    "SELECT CAST(:id AS uuid), CAST(:user_id AS uuid), NULL, :version, CAST(:values AS jsonb) "
    "FROM actor ON CONFLICT (user_id) WHERE tenant_id IS NULL DO NOTHING RETURNING user_id"
)


_OWN_DEFAULTS_MANY = text(
    "WITH actor AS MATERIALIZED (SELECT set_config(:setting, :user_id, true) AS v) "
    "INSERT INTO users.preferences (id, user_id, tenant_id, schema_version, values) "
    "SELECT CAST(:id AS uuid), CAST(:user_id AS uuid), NULL, :version, CAST(:values AS jsonb) "
    "FROM actor ON CONFLICT (user_id) WHERE tenant_id IS NULL DO NOTHING"
)


async def put_own_defaults(
    session: DbSession, user_ids: Sequence[uuid.UUID], *, schema_version: int, values_json: str
) -> set[uuid.UUID]:
    """Each user's own (every-tenant) defaults stored where they have none; who got them."""
    created: set[uuid.UUID] = set()
    if not user_ids:
        return created
    actor = await session.scalar(text("SELECT current_setting(:s, true)"), {"s": ACTOR_SETTING})
    for user_id in user_ids:
        made = await session.scalar(
            _OWN_DEFAULTS,
            {
                "setting": ACTOR_SETTING,
                "user_id": str(user_id),
                "id": str(uuid.uuid4()),
                "version": schema_version,
                "values": values_json,
            },
        )
        if made is not None:
            created.add(user_id)
    await set_actor(session, actor or "")
    return created


async def put_new_own_defaults(
    session: DbSession, user_ids: Sequence[uuid.UUID], *, schema_version: int, values_json: str
) -> None:
    """``put_own_defaults`` for users who cannot have own preferences yet (accounts created in
    this very transaction's batch): the statements sent as one pipelined batch (asyncpg
    ``executemany``), every row created."""
    if not user_ids:
        return
    actor = await session.scalar(text("SELECT current_setting(:s, true)"), {"s": ACTOR_SETTING})
    await session.execute(
        _OWN_DEFAULTS_MANY,
        [
            {
                "setting": ACTOR_SETTING,
                "user_id": str(user_id),
                "id": str(uuid.uuid4()),
                "version": schema_version,
                "values": values_json,
            }
            for user_id in user_ids
        ],
    )
    await set_actor(session, actor or "")


async def set_actor(session: DbSession, actor: str) -> None:
    await session.execute(text("SELECT set_config(:s, :v, true)"), {"s": ACTOR_SETTING, "v": actor})


async def add_entries(
    session: DbSession, tenant_id: uuid.UUID, entries: Sequence[NewEntry], status: str
) -> set[uuid.UUID]:
    """Directory entries for those not in the tenant's directory yet; who got one."""
    if not entries:
        return set()
    source = _columns(
        user_id=([e.user_id for e in entries], _ID),
        role=([e.role for e in entries], String()),
        display_name=([e.display_name for e in entries], String()),
        email=([e.email for e in entries], String()),
        name_text=([e.name_text for e in entries], String()),
    )
    rows = select(
        cast(tenant_id, _ID),
        cast(status, String()),
        cast(func.now(), DateTime(timezone=True)),
        *source.c,
    )
    created = await session.scalars(
        insert(DirectoryEntry)
        .from_select(["tenant_id", "status", "joined_at", *(c.name for c in source.c)], rows)
        .on_conflict_do_nothing(index_elements=["tenant_id", "user_id"])
        .returning(DirectoryEntry.user_id)
    )
    return set(created)


async def add_first_runs(
    session: DbSession, tenant_id: uuid.UUID, rows: Sequence[dict[str, Any]]
) -> None:
    """``{user_id, checklist, created, idempotency_key}`` rows (none of them set up before)."""
    if not rows:
        return
    source = _columns(
        user_id=([r["user_id"] for r in rows], _ID),
        checklist=([json.dumps(r["checklist"]) for r in rows], Text()),
        created=([json.dumps(r["created"]) for r in rows], Text()),
        idempotency_key=([r["idempotency_key"] for r in rows], String()),
    )
    await session.execute(
        insert(FirstRun)
        .from_select(
            ["tenant_id", "user_id", "checklist", "created", "idempotency_key"],
            select(
                cast(tenant_id, _ID),
                source.c.user_id,
                cast(source.c.checklist, JSONB),
                cast(source.c.created, JSONB),
                source.c.idempotency_key,
            ),
        )
        .on_conflict_do_nothing()
    )


async def mark_welcomed_many(
    session: DbSession, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID], at: datetime
) -> None:
    if user_ids:
        await session.execute(
            update(FirstRun)
            .where(FirstRun.tenant_id == tenant_id, FirstRun.user_id.in_(list(user_ids)))
            .values(welcome_sent_at=at)
            .execution_options(synchronize_session=False)
        )
