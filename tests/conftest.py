"""Session fixtures: a fresh Temporal dev server, database, Redis prefix and task-queue prefix
per run, so leftovers of an earlier run never matter."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from temporalio.client import Client

from services.auth.runtime import AuthRuntime, runtime_for
from services.common.resources import Resources
from services.common.settings import ServiceName, Settings
from services.common.temporal import build_worker, connect_temporal
from services.devstack.ports import accepts_connections, free_port
from services.devstack.postgres import start_embedded_postgres
from services.devstack.redis import start_redis
from services.devstack.seaweedfs import start_seaweedfs
from services.devstack.temporal import start_temporal_dev_server
from storage.migrate import migrate
from storage.s3_blobs import S3Config
from tests.auth.users import AuthUser, create_user
from tests.in_process import in_process_auth_api
from tests.security_suite import in_security_suite
from tests.support import RUN_ID, TEST_PAYLOAD_KEYS, Infra, Stack, stable_id, start_stack
from tests.workers import running_workers


def _database_server(infra_dir, processes) -> str:  # type: ignore[no-untyped-def]
    """The machine's PostgreSQL on 127.0.0.1:5432 when present, else an embedded one."""
    if os.environ.get("ADX_TEST_DATABASE_URL"):
        return os.environ["ADX_TEST_DATABASE_URL"]
    if accepts_connections("127.0.0.1", 5432):
        return "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    proc, url = start_embedded_postgres(infra_dir, free_port(), echo=False, die_with_parent=True)
    processes.append(proc)
    return url


def _redis_server(infra_dir, processes) -> str:  # type: ignore[no-untyped-def]
    if os.environ.get("ADX_TEST_REDIS_URL"):
        return os.environ["ADX_TEST_REDIS_URL"]
    if accepts_connections("127.0.0.1", 6379):
        return "redis://127.0.0.1:6379/0"
    port = free_port()
    processes.append(start_redis(infra_dir, port, echo=False, die_with_parent=True))
    return f"redis://127.0.0.1:{port}/0"


async def _admin(url: str) -> asyncpg.Connection:
    u = make_url(url)
    return await asyncpg.connect(
        host=u.host, port=u.port, user=u.username, password=u.password, database="postgres"
    )


@pytest.fixture(scope="session")
async def infra(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Infra]:
    data_dir = tmp_path_factory.mktemp("adx")
    processes = []
    temporal_port = free_port()
    processes.append(
        await asyncio.to_thread(
            start_temporal_dev_server,
            data_dir / "temporal",
            temporal_port,
            None,
            echo=False,
            die_with_parent=True,
        )
    )
    server_url = await asyncio.to_thread(_database_server, data_dir, processes)
    redis_url = await asyncio.to_thread(_redis_server, data_dir, processes)
    database = f"adx_test_{RUN_ID}"
    admin = await _admin(server_url)
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    env = {
        "ADX_ENV": "test",
        "ADX_LOG_JSON": "false",
        "ADX_DATA_DIR": str(data_dir),
        "ADX_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "ADX_TEMPORAL_NAMESPACE": "adx-development",
        "ADX_DATABASE_URL": make_url(server_url).set(database=database).render_as_string(False),
        "ADX_REDIS_URL": redis_url,
        "ADX_REDIS_PREFIX": f"adxtest-{RUN_ID}",
        "ADX_TASK_QUEUE_PREFIX": f"t{RUN_ID}",
        "ADX_WORKER_GRACEFUL_SHUTDOWN_SECONDS": "2",
        "ADX_PROGRESS_POLL_SECONDS": "0.1",
        "ADX_PAYLOAD_KEYS": TEST_PAYLOAD_KEYS,
        # Reuse of a spent refresh token revokes at once (the tests that assert it); the reuse
        # interval is tested with its own setting
        # (tests/auth/sessions/test_refresh_reuse_interval.py).
        "ADX_AUTH_REFRESH_REUSE_SECONDS": "0",
        # Every gateway test calls from 127.0.0.1: limits stay on, far above what the suite sends.
        "ADX_RATE_LIMIT_ANONYMOUS_REQUESTS": "100000",
        "ADX_RATE_LIMIT_USER_REQUESTS": "100000",
        "ADX_RATE_LIMIT_TENANT_REQUESTS": "100000",
    }
    os.environ.update(env)
    infra = Infra(env=env, data_dir=data_dir, processes=processes)
    await migrate(infra.settings())
    yield infra
    for proc in reversed(processes):
        await asyncio.to_thread(proc.stop)
    if server_url.endswith("/postgres") and accepts_connections(
        "127.0.0.1", make_url(server_url).port or 5432
    ):
        admin = await _admin(server_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
def settings(infra: Infra) -> Settings:
    return infra.settings()


@pytest.fixture(scope="session")
async def temporal(settings: Settings) -> Client:
    return await connect_temporal(settings)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url, decode_responses=True)
    yield client
    await client.aclose()


ResourcesFor = Callable[[ServiceName], Awaitable[Resources]]


@pytest.fixture(scope="session")
async def resources_for(settings: Settings) -> AsyncIterator[ResourcesFor]:
    """The one factory of a service's in-process resources: ``await resources_for(name)`` opens
    them once per session (database pool, Redis, Temporal client, blobs) and closes them at
    the end."""
    opened: dict[ServiceName, Resources] = {}
    lock = asyncio.Lock()

    async def open_for(service: ServiceName) -> Resources:
        async with lock:
            if service not in opened:
                opened[service] = await Resources.open(settings, service)
            return opened[service]

    yield open_for
    for resources in opened.values():
        await resources.close()


@pytest.fixture(scope="session")
async def auth_resources(resources_for: ResourcesFor) -> Resources:
    return await resources_for(ServiceName.auth)


@pytest.fixture(scope="session")
async def user_resources(resources_for: ResourcesFor) -> Resources:
    return await resources_for(ServiceName.user)


@pytest.fixture(scope="session")
async def tenant_resources(resources_for: ResourcesFor) -> Resources:
    return await resources_for(ServiceName.tenant)


@pytest.fixture(scope="session")
async def file_resources(resources_for: ResourcesFor) -> Resources:
    return await resources_for(ServiceName.file)


@pytest.fixture(scope="session")
async def gateway_resources(resources_for: ResourcesFor) -> Resources:
    return await resources_for(ServiceName.gateway)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Config]:
    """One SeaweedFS (master, volume, filer, S3 gateway) for the session, on free ports and a
    temp directory, with one identity and one bucket (``services/devstack/seaweedfs.py``);
    stopped at the end, and by the kernel if pytest dies."""
    running = start_seaweedfs(tmp_path_factory.mktemp("seaweed"), die_with_parent=True)
    try:
        yield running.config
    finally:
        running.stop()


@pytest.fixture(scope="session")
def auth_runtime(auth_resources: Resources) -> AuthRuntime:
    return runtime_for(auth_resources)


@pytest.fixture
async def auth_client(auth_resources: Resources) -> AsyncIterator[httpx.AsyncClient]:
    """The auth API in-process; each test is its own client address."""
    async with in_process_auth_api(auth_resources) as client:
        yield client


@pytest.fixture
async def user(auth_runtime: AuthRuntime) -> AuthUser:
    """A fresh verified user (tests/auth/users.py)."""
    return await create_user(auth_runtime)


@pytest.fixture(scope="session")
async def in_process_workers(
    settings: Settings, auth_resources: Resources, user_resources: Resources
) -> AsyncIterator[str]:
    """Auth and user workers in this process on their own queue prefix; yields that prefix."""
    from services.auth.service import SPEC as AUTH
    from services.user.service import SPEC as USER

    prefix = f"w{RUN_ID}"
    async with running_workers(settings, ((AUTH, auth_resources), (USER, user_resources)), prefix):
        yield prefix


@pytest.fixture(scope="session")
async def stack_billing() -> AsyncIterator[dict[str, str]]:
    """The stack's billing: a localstripe process for the session with the ADX plans made
    (``services/devstack/stripe.py``), as the settings the stack's processes get. Only the stack
    bills through it; in-process tests keep the settings of ``infra`` (the local provider)."""
    from services.devstack.stripe import (
        EMULATOR_API_KEY,
        EMULATOR_WEBHOOK_SECRET,
        start_stripe_emulator,
        stripe_emulator_url,
    )
    from services.tenant.billing.stripe_provider import StripeBillingProvider, ensure_stripe_plans

    port = free_port()
    proc = await asyncio.to_thread(start_stripe_emulator, port, echo=False, die_with_parent=True)
    api_base = stripe_emulator_url(port)
    provider = StripeBillingProvider(EMULATOR_API_KEY, EMULATOR_WEBHOOK_SECRET, api_base=api_base)
    try:
        await ensure_stripe_plans(provider)
    finally:
        await provider.aclose()
    yield {
        "ADX_BILLING_PROVIDER": "stripe",
        "ADX_STRIPE_API_KEY": EMULATOR_API_KEY,
        "ADX_STRIPE_API_BASE": api_base,
        "ADX_STRIPE_WEBHOOK_SECRET": EMULATOR_WEBHOOK_SECRET,
    }
    await asyncio.to_thread(proc.stop)


@pytest.fixture(scope="session")
def stack(infra: Infra, stack_billing: dict[str, str]) -> Iterator[Stack]:
    """gateway + five services as real processes (HTTP and workers) for end-to-end tests; the
    tenant service bills through a localstripe (``stack_billing``)."""
    running = start_stack({**infra.env, **stack_billing}, infra.data_dir / "logs")
    yield running
    for proc in running.processes.values():
        proc.stop()


@pytest.fixture
async def whoami_queue(temporal: Client, settings: Settings) -> AsyncIterator[str]:
    """A worker on its own queue running the security-context probe workflows
    (tests/platform/security_workflows.py: ParentWorkflow, ChildWorkflow and the ``whoami``
    activity)."""
    from tests.platform.security_workflows import ChildWorkflow, ParentWorkflow, whoami

    queue = f"security-{uuid.uuid4().hex[:8]}"
    worker = build_worker(
        temporal,
        settings,
        task_queue=queue,
        workflows=[ParentWorkflow, ChildWorkflow],
        activities=[whoami],
    )
    async with worker:
        yield queue


#: Packages that must run on one pytest-xdist worker: a package-scoped fixture (a platform or a
#: Prometheus of their own) or an npm install into the tree (tests/oidc, .tools/argo-models).
ONE_WORKER_PACKAGES = (
    "tests/operations/chaos/",
    "tests/operations/monitoring/",
    "tests/auth/sso/",
    "tests/deploy/",
)


def distribution_scope(nodeid: str) -> str:
    """The unit `make test` hands one worker (``--dist loadscope``): a whole package for those
    above, else a whole file, so module-scoped fixtures are built once."""
    path = nodeid.partition("::")[0]
    for package in ONE_WORKER_PACKAGES:
        if path.startswith(package):
            return package
    return path


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadscope`` with ``distribution_scope`` as the scope (xdist's ``loadgroup``
    marks do not group under pytest 9: it sets an ``Item._nodeid`` pytest no longer reads)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ScopeScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return distribution_scope(nodeid)

    return ScopeScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``security``: the security and compliance suite (tests/security_suite.py, `make security`)."""
    for item in items:
        if in_security_suite(item.nodeid):
            item.add_marker(pytest.mark.security)


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """Ids that are the same in every xdist worker (``stable_id``: no random UUID or bytes)."""
    return stable_id(val)
