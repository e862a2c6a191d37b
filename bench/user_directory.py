"""Directory search over a tenant of 100,000 members (``make bench-user-directory``, or ``python -m
bench.user_directory [--members 100000] [--duration 15] [--json out.json]``).

- **service**: ``GET /directory?search=...&first=20`` on the user service (a process, HTTP and
  worker, with the auth service beside it for the caller's token), one client in a closed loop
  over a sample of queries taken from the members' own names: prefixes of given and family names,
  a whole name, an address prefix, and names with one letter wrong (the typo-tolerant match).
- **raw SQL**: the very statements the service's repository sends for each of those queries
  (captured from ``storage.users.directory``), replayed with asyncpg on one connection as the
  application role: the same transaction (scope and ``pg_trgm`` threshold set, then the page's
  SELECT under row-level security), none of the service's HTTP, token or ORM work.

The members are written straight into the directory copy with COPY (their insertion is not what
is measured). Targets: service p50 at most 2x raw SQL p50, service p99 under 50 ms. Prints the
figures and ``EXPLAIN ANALYZE`` of one query of each kind. Not a test: it measures and reports."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
from sqlalchemy import event
from sqlalchemy.engine import make_url

from bench.argon2_rate import PASSWORD
from bench.clients import RawPoster
from bench.infra import BenchInfra, create_verified_accounts, infrastructure
from bench.load import OperationError, PhaseResult, drive, wait_until_quiet
from bench.tenant_create import start_stack
from services.common.resources import Resources
from services.common.settings import ServiceName
from storage.db import engine_of, transaction
from storage.users.directory import DirectoryRepository, DirectorySort, name_text, query_digest
from workflows.tenant.permissions import built_in_permissions

P50_RATIO_TARGET = 2.0
P99_TARGET_MS = 50.0
PAGE = 20
GIVEN = (
    "Anna Ben Carla David Elena Felix Greta Hugo Ines Jonas Klara Lukas Maria Noah Olga Paul "
    "Quinn Rosa Simon Tara Uwe Vera Walter Xenia Yusuf Zoe Amir Beatriz Chen Dmitri Emma Farah "
    "Goran Hana Ivan Julia Kenji Leila Mateo Nadia Omar Priya Rafael Sofia Tomas Ulla Viktor "
    "Wanda Yara Zeynep"
).split()
SYLLABLES = (
    "ka ri mo lan ber sch ov ich ton da vel ser ano mar tin ko hu sa ne li go ra pe stein "
    "mann berg ez son ova"
).split()


def family_name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


@dataclass(frozen=True)
class Member:
    user_id: uuid.UUID
    given: str
    family: str
    email: str

    @property
    def display_name(self) -> str:
        return f"{self.given} {self.family}"


def members(count: int, rng: random.Random) -> list[Member]:
    people = []
    for index in range(count):
        given, family = rng.choice(GIVEN), family_name(rng)
        email = f"{given.lower()}.{family.lower()}{index}@example.com"
        people.append(Member(uuid.uuid4(), given, family, email))
    return people


def typo(word: str, rng: random.Random) -> str:
    """One letter replaced (never the first: a typo-tolerant match, not a prefix one)."""
    at = rng.randrange(1, len(word))
    letter = rng.choice([c for c in "aeiourstnlm" if c != word[at]])
    return word[:at] + letter + word[at + 1 :]


def sample_queries(people: Sequence[Member], count: int, rng: random.Random) -> list[str]:
    """``count`` searches, by kind in turn: a family-name prefix, a given-name prefix plus a
    family-name prefix, a whole name, an address prefix, a family name with a typo."""
    queries = []
    for index in range(count):
        person = rng.choice(people)
        kind = index % 5
        if kind == 0:
            queries.append(person.family[: rng.randint(3, 5)].lower())
        elif kind == 1:
            queries.append(f"{person.given[:3]} {person.family[:3]}".lower())
        elif kind == 2:
            queries.append(person.display_name)
        elif kind == 3:
            queries.append(person.email.split("@")[0][: rng.randint(6, 10)])
        else:
            queries.append(typo(person.family.lower(), rng))
    return queries


async def seed(
    infra: BenchInfra, people: Sequence[Member], tenant_id: uuid.UUID, admin: Member
) -> None:
    """The members (and the admin who searches) into ``users.directory`` with COPY, the admin's
    claims (role admin, its permissions) into auth, as the schema owner."""
    conn = await asyncpg.connect(_plain(infra.settings().database_url))
    joined = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        (
            tenant_id,
            m.user_id,
            "admin" if m is admin else "member",
            "active",
            joined + timedelta(seconds=i),
            m.display_name,
            m.email,
            name_text(m.display_name, m.given, m.family),
            joined,
        )
        for i, m in enumerate([*people, admin])
    ]
    permissions = sorted(p.value for p in built_in_permissions("admin") or ())
    try:
        await conn.copy_records_to_table(
            "directory",
            schema_name="users",
            records=rows,
            columns=[
                "tenant_id", "user_id", "role", "status", "joined_at", "display_name", "email",
                "name_text", "updated_at",
            ],
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO auth.principal_claims (user_id, tenant_id, roles, permissions)"
            " VALUES ($1, $2, $3, $4)",
            admin.user_id,
            tenant_id,
            ["admin"],
            permissions,
        )
        await conn.execute("ANALYZE users.directory")
        # The word table the directory's trigger filled (users_0007), as autovacuum would leave
        # it: statistics, and a visibility map for index-only scans of its primary key.
        await conn.execute("VACUUM (ANALYZE) users.directory_words")
    finally:
        await conn.close()


@dataclass(frozen=True)
class Captured:
    """The statements one directory search sends, as the service's engine sends them."""

    statements: list[tuple[str, tuple[Any, ...]]]


async def capture(
    users: Resources, tenant_id: uuid.UUID, admin: uuid.UUID, queries: Sequence[str]
) -> list[Captured]:
    """Run each search through ``DirectoryRepository.page`` in this process and record what
    it executes (after the transaction's BEGIN): scope, threshold, the page's SELECT."""
    engine = engine_of(users.database)
    recording: list[tuple[str, tuple[Any, ...]]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        recording.append((statement, tuple(parameters or ())))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    captured = []
    try:
        for term in queries:
            recording.clear()
            async with transaction(users.database, tenant_id, user_id=admin) as db:
                await DirectoryRepository(db, tenant_id).page(
                    first=PAGE,
                    after=None,
                    search=term,
                    role=None,
                    status=None,
                    sort=DirectorySort.RELEVANCE,
                    query=query_digest(term, None, None, DirectorySort.RELEVANCE),
                )
            captured.append(Captured(list(recording)))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    return captured


async def explain(conn: asyncpg.Connection, search: Captured) -> str:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of each SELECT of a search (the prefix matches' and, where
    they do not fill the page, the typo-tolerant ones'), in its transaction."""
    plans = []
    async with conn.transaction():
        for statement, parameters in search.statements:
            if "set_config" in statement:
                await conn.execute(statement, *parameters)
                continue
            rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", *parameters)
            plans.append("\n".join(row[0] for row in rows))
    return "\n--- next statement ---\n".join(plans)


async def measure(infra: BenchInfra, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)  # noqa: S311 - sample data, not secrets
    people = members(args.members, rng)
    tenant_id = uuid.uuid4()
    (address,) = await create_verified_accounts(
        infra, 1, PASSWORD, lambda i: f"directory-admin-{i.hex[:8]}@example.com"
    )
    owner = await asyncpg.connect(_plain(infra.settings().database_url))
    try:
        admin_id = await owner.fetchval("SELECT id FROM auth.credentials WHERE email = $1", address)
    finally:
        await owner.close()
    admin = Member(admin_id, "Ada", "Admin", address)
    await seed(infra, people, tenant_id, admin)
    queries = sample_queries(people, args.queries, rng)

    ports = start_stack(infra, [ServiceName.auth, ServiceName.user])
    auth_url = f"http://127.0.0.1:{ports[ServiceName.auth]}"
    user_url = f"http://127.0.0.1:{ports[ServiceName.user]}"
    async with httpx.AsyncClient(base_url=auth_url, timeout=60) as http:
        login = await http.post(
            "/auth/login",
            json={"email": address, "password": PASSWORD, "tenant_id": str(tenant_id)},
        )
    login.raise_for_status()
    token = login.json()["tokens"]["access_token"]

    users = await Resources.open(infra.settings(), ServiceName.user)
    try:
        captured = await capture(users, tenant_id, admin_id, queries)
    finally:
        await users.close()
    raw = await asyncpg.connect(_plain(infra.settings().app_database_url(ServiceName.user)))
    service = RawPoster(user_url, {"authorization": f"Bearer {token}"})
    paths = [f"/directory?{urlencode({'search': q, 'first': PAGE})}" for q in queries]
    counter = {"service": 0, "raw": 0}

    async def via_service(_: int) -> None:
        path = paths[counter["service"] % len(paths)]
        counter["service"] += 1
        try:
            status, body = await service.get(path)
        except (asyncio.IncompleteReadError, ConnectionError):
            await service.close()  # the server closed an idle connection: the next opens anew
            raise
        if status != 200:
            raise OperationError(f"HTTP {status}: {body[:200]!r}")

    async def via_sql(_: int) -> None:
        search = captured[counter["raw"] % len(captured)]
        counter["raw"] += 1
        async with raw.transaction():
            for statement, parameters in search.statements[:-1]:
                await raw.execute(statement, *parameters)
            statement, parameters = search.statements[-1]
            await raw.fetch(statement, *parameters)

    hits = []
    for path in paths[:10]:
        status, body = await service.get(path)
        hits.append(len(json.loads(body)["items"]) if status == 200 else -status)
    phases: dict[str, PhaseResult] = {}
    try:
        for name, operation in (("raw SQL", via_sql), ("service", via_service)):
            wait_until_quiet(10)
            await service.close()  # idle past the server's keep-alive meanwhile
            phases[name] = await drive(
                name,
                operation,
                clients=1,
                warmup=args.warmup,
                duration=args.duration,
                roles=infra.roles,
            )
        plans = {
            kind: await explain(raw, captured[index])
            for kind, index in (("prefix", 0), ("whole name", 2), ("typo", 4))
        }
    finally:
        await service.close()
        await raw.close()
    service_p50 = phases["service"].latency_ms(0.50)
    raw_p50 = phases["raw SQL"].latency_ms(0.50)
    service_p99 = phases["service"].latency_ms(0.99)
    return {
        "members": args.members,
        "queries": len(queries),
        "first_page_sizes": hits,
        "phases": {name: phase.summary() for name, phase in phases.items()},
        "p50_ratio": round(service_p50 / raw_p50, 2),
        "targets": {
            f"service p50 <= {P50_RATIO_TARGET}x raw SQL p50": service_p50
            <= P50_RATIO_TARGET * raw_p50,
            f"service p99 < {P99_TARGET_MS} ms": service_p99 < P99_TARGET_MS,
        },
        "explain": plans,
    }


def _plain(url: str) -> str:
    """An asyncpg DSN from a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200, help="searches in the sample")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="uncounted seconds before each")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--json", help="also write the figures to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with infrastructure() as infra:
        figures = asyncio.run(measure(infra, args))
    plans = figures.pop("explain")
    print(json.dumps(figures, indent=2))
    for kind, plan in plans.items():
        print(f"\nEXPLAIN ANALYZE ({kind}):\n{plan}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({**figures, "explain": plans}, out, indent=2)
    return 0 if all(figures["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
