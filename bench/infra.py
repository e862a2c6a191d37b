"""The benchmark's own backing services and auth process: a fresh Temporal dev server, PostgreSQL
and Redis (the machine's on 127.0.0.1 when reachable, else embedded ones, as the tests do), a
fresh migrated database that is dropped afterwards, and ``python -m services.auth`` on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from redis.asyncio import Redis
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from services.common.passwords import hasher
from services.common.settings import Settings
from services.devstack import (
    ManagedProcess,
    free_port,
    start_embedded_postgres,
    start_redis,
    start_temporal_dev_server,
    wait_for_http,
)
from services.devstack.ports import accepts_connections
from storage.auth.models import Credential
from storage.migrate import ensure_database, migrate

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class BenchInfra:
    """Addresses of this run's backing services as ``ADX_*`` variables, and what to stop."""

    data_dir: Path
    env: dict[str, str]
    database: str
    server_url: str  # the PostgreSQL server's ``postgres`` database, to create/drop ours
    processes: list[ManagedProcess] = field(default_factory=list)
    #: Names of this run's helper processes by pid, for the CPU breakdown.
    roles: dict[int, str] = field(default_factory=dict)

    def settings(self) -> Settings:
        return Settings.model_validate(
            {k.removeprefix("ADX_").lower(): v for k, v in self.env.items()}
        )

    def track(self, role: str, process: ManagedProcess) -> ManagedProcess:
        self.processes.append(process)
        if process.pid is not None:
            self.roles[process.pid] = role
        return process


def _postgres(infra: BenchInfra) -> str:
    if os.environ.get("ADX_BENCH_DATABASE_URL"):
        return os.environ["ADX_BENCH_DATABASE_URL"]
    if accepts_connections("127.0.0.1", 5432):
        return "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    proc, url = start_embedded_postgres(
        infra.data_dir, free_port(), database="postgres", echo=False, die_with_parent=True
    )
    infra.track("postgres", proc)
    return url


def _redis(infra: BenchInfra) -> str:
    if os.environ.get("ADX_BENCH_REDIS_URL"):
        return os.environ["ADX_BENCH_REDIS_URL"]
    if accepts_connections("127.0.0.1", 6379):
        return "redis://127.0.0.1:6379/0"
    port = free_port()
    infra.track("redis", start_redis(infra.data_dir, port, echo=False, die_with_parent=True))
    return f"redis://127.0.0.1:{port}/0"


async def _drop_database(server_url: str, database: str) -> None:
    url = make_url(server_url)
    admin = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database="postgres"
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await admin.close()


async def _delete_keys(redis_url: str, prefix: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
            await redis.delete(key)
    finally:
        await redis.aclose()


@contextlib.contextmanager
def infrastructure(*, keep_data: bool = False) -> Iterator[BenchInfra]:
    """Everything the auth service needs, fresh; torn down (database dropped) on exit."""
    run = uuid.uuid4().hex[:8]
    data_dir = Path(tempfile.mkdtemp(prefix=f"adx-bench-{run}-"))
    infra = BenchInfra(data_dir=data_dir, env={}, database=f"adx_bench_{run}", server_url="")
    created = False
    try:
        temporal_port = free_port()
        infra.track(
            "temporal",
            start_temporal_dev_server(
                data_dir / "temporal", temporal_port, None, echo=False, die_with_parent=True
            ),
        )
        infra.server_url = _postgres(infra)
        redis_url = _redis(infra)
        infra.env = {
            "ADX_ENV": "test",
            "ADX_LOG_JSON": "true",
            "ADX_DATA_DIR": str(data_dir),
            "ADX_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
            "ADX_TEMPORAL_NAMESPACE": "adx-development",
            "ADX_DATABASE_URL": make_url(infra.server_url)
            .set(database=infra.database)
            .render_as_string(False),
            "ADX_REDIS_URL": redis_url,
            "ADX_REDIS_PREFIX": f"adxbench-{run}",
            "ADX_TASK_QUEUE_PREFIX": f"bench{run}",
        }
        settings = infra.settings()
        created = True  # from here on the database may exist: drop it on the way out
        asyncio.run(ensure_database(settings.database_url))
        asyncio.run(migrate(settings))
        yield infra
    finally:
        for proc in reversed(infra.processes):
            if proc.pid is not None and infra.roles.get(proc.pid) != "postgres":
                proc.stop()
        if created:
            with contextlib.suppress(Exception):
                asyncio.run(_drop_database(infra.server_url, infra.database))
            with contextlib.suppress(Exception):  # a shared Redis keeps no leftovers either
                asyncio.run(_delete_keys(infra.env["ADX_REDIS_URL"], infra.env["ADX_REDIS_PREFIX"]))
        for proc in infra.processes:
            if proc.is_running():
                proc.stop()  # an embedded PostgreSQL last, after its database was dropped
        if not keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)


def start_auth_service(
    infra: BenchInfra,
    *,
    extra_env: dict[str, str] | None = None,
    profile: Path | None = None,
    cpu: int | None = None,
    mode: str = "http",
) -> tuple[ManagedProcess, str]:
    """``python -m services.auth --mode http`` on a free port (under cProfile when ``profile``
    names the stats file; on CPU ``cpu`` only when given, as a replica limited to one CPU;
    ``mode="both"`` runs its Temporal worker too); returns it and its base URL."""
    port = free_port()
    env = {**os.environ, **infra.env, "ADX_AUTH_PORT": str(port), **(extra_env or {})}
    module = ["services.auth"] if profile is None else ["bench.profile_service", str(profile)]
    argv = [sys.executable, "-m", *module, "--mode", mode]
    if cpu is not None:
        # From its first instruction, so the argon2 pool (sized at import) sees one CPU.
        taskset = shutil.which("taskset")
        if taskset is None:
            raise SystemExit("--pin needs taskset (util-linux) on PATH")
        argv = [taskset, "--cpu-list", str(cpu), *argv]
    proc = ManagedProcess(
        "auth",
        argv,
        env=env,
        cwd=ROOT,
        log_file=infra.data_dir / "logs" / f"auth-{port}.log",
        echo=False,
        die_with_parent=True,
        stop_timeout=30,
    ).start()
    infra.track("auth", proc)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/health/ready", timeout=90, process=proc)
    return proc, url


async def create_verified_accounts(
    infra: BenchInfra, count: int, password: str, email: Callable[[uuid.UUID], str]
) -> list[str]:
    """``count`` verified accounts inserted directly, sharing one hash of ``password`` (their
    creation and hashing are not what is measured); ``email`` names each from its id. Their
    addresses."""
    rows = await insert_verified_accounts(infra.settings().database_url, count, password, email)
    return [address for _, address in rows]


async def insert_verified_accounts(
    database_url: str,
    count: int,
    password: str,
    email: Callable[[uuid.UUID], str],
    *,
    profiles: bool = False,
) -> list[tuple[uuid.UUID, str]]:
    """``create_verified_accounts`` into the database at ``database_url``, each with an active
    user profile too when ``profiles`` (what a finished sign-up leaves): (user id, e-mail)."""
    password_hash = await asyncio.to_thread(hasher.hash, password)
    rows = [
        {
            "id": user_id,
            "email": email(user_id),
            "password_hash": password_hash,
            "email_verified": True,
            "idempotency_key": f"bench:{user_id}",
        }
        for user_id in (uuid.uuid4() for _ in range(count))
    ]
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(Credential), rows)
            if profiles:
                await conn.execute(
                    text(
                        "INSERT INTO users.profiles (id, email, display_name, status,"
                        " idempotency_key) VALUES (:id, :email, :name, 'active', :key)"
                    ),
                    [
                        {
                            "id": row["id"],
                            "email": row["email"],
                            "name": f"Bench {str(row['id'])[:8]}",
                            "key": row["idempotency_key"],
                        }
                        for row in rows
                    ],
                )
    finally:
        await engine.dispose()
    return [(uuid.UUID(str(row["id"])), str(row["email"])) for row in rows]
