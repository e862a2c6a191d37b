"""A stopped PostgreSQL (issue 13, "stop PostgreSQL"): the routes that need it answer a prompt
503 problem+json (the gateway ``SERVICE_UNAVAILABLE``), readiness names the database, an
activity that needs it is retried by Temporal, and once the server is back every pool recovers
by itself: requests succeed and the run finishes, its mail sent once.

An embedded PostgreSQL of this module's own (stopped and started on its data directory), one
auth process in dual mode and one gateway process on it, on a task-queue prefix of their own;
Temporal and Redis are the test run's."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from services.auth.runtime import runtime_for
from services.common.resources import Resources
from services.common.settings import ServiceName, Settings
from services.common.temporal import connect_temporal
from services.devstack.ports import free_port, wait_for_http
from services.devstack.postgres import start_embedded_postgres
from services.devstack.processes import ManagedProcess
from storage.migrate import migrate
from tests.auth.users import AuthUser, create_user
from tests.support import RUN_ID, Infra, start_service

#: Generous bounds (a loaded CI machine): the point is "seconds, not a hang".
ANSWER_WITHIN = 8.0
RECOVER_WITHIN = 15.0
INTERNALS = ("Traceback", "127.0.0.1", "Connect call failed", "asyncpg", "sqlalchemy", "Errno")
LOGIN = (
    "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) "
    "{ tokens { accessToken } } }"
)
SIGN_UP = (
    "mutation($e: String!) { signUp(input: {email: $e, password: "
    '"a long and unusual passphrase 7", displayName: "Outage Test"}) { id } }'
)


@dataclass
class Platform:
    """An auth service and a gateway over a PostgreSQL the test stops and starts."""

    data_dir: Path
    pg_port: int
    pg_dir: Path
    auth: str
    gateway: str
    settings: Settings
    postgres: ManagedProcess
    user: AuthUser
    outbox: Path
    processes: list[ManagedProcess] = field(default_factory=list)

    def stop_postgres(self) -> None:
        self.postgres.stop()  # SIGINT: PostgreSQL's fast shutdown, every session ended

    def start_postgres(self) -> None:
        self.postgres, _ = start_embedded_postgres(
            self.pg_dir, self.pg_port, echo=False, die_with_parent=True
        )

    def mails_to(self, address: str) -> int:
        if not self.outbox.is_dir():
            return 0
        return sum(
            address in path.read_text(errors="replace") for path in self.outbox.glob("*.eml")
        )


@pytest.fixture(scope="module")
def pg_dir() -> Iterator[Path]:
    """Outside pytest's temp tree: as root PostgreSQL runs as a system user that must traverse
    every parent (tests/platform/test_devstack.py says why pytest's own does not do)."""
    path = Path(tempfile.mkdtemp(prefix="adx-outage-pg-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
async def platform(
    infra: Infra, pg_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    root = tmp_path_factory.mktemp("pg-outage")
    pg_port, auth_port, gateway_port = free_port(), free_port(), free_port()
    postgres, url = await asyncio.to_thread(
        start_embedded_postgres, pg_dir, pg_port, echo=False, die_with_parent=True
    )
    env = {
        **infra.env,
        "ADX_DATABASE_URL": url,
        "ADX_DATA_DIR": str(root),
        "ADX_TASK_QUEUE_PREFIX": f"pg{RUN_ID}",
        "ADX_AUTH_PORT": str(auth_port),
        "ADX_GATEWAY_PORT": str(gateway_port),
    }
    settings = Settings(
        database_url=url, data_dir=root, task_queue_prefix=env["ADX_TASK_QUEUE_PREFIX"]
    )
    processes: list[ManagedProcess] = []
    resources: Resources | None = None
    platform: Platform | None = None
    try:
        await migrate(settings)
        resources = await Resources.open(settings, ServiceName.auth)
        user = await create_user(runtime_for(resources))
        await resources.close()
        resources = None
        processes.append(start_service(ServiceName.auth, env, root, name="auth-pg-outage"))
        processes.append(
            start_service(ServiceName.gateway, env, root, mode="http", name="gw-pg-outage")
        )
        for port, process in zip((auth_port, gateway_port), processes, strict=True):
            await asyncio.to_thread(
                wait_for_http,
                f"http://127.0.0.1:{port}/health/ready",
                timeout=90,
                process=process,
            )
        platform = Platform(
            data_dir=root,
            pg_port=pg_port,
            pg_dir=pg_dir,
            auth=f"http://127.0.0.1:{auth_port}",
            gateway=f"http://127.0.0.1:{gateway_port}/graphql",
            settings=settings,
            postgres=postgres,
            user=user,
            outbox=settings.outbox_dir(),
            processes=processes,
        )
        yield platform
    finally:
        if resources is not None:
            await resources.close()
        for process in processes:
            await asyncio.to_thread(process.stop)
        await asyncio.to_thread((platform.postgres if platform else postgres).stop)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield http


async def timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await call
    return response, time.monotonic() - started


async def gql(
    client: httpx.AsyncClient, url: str, query: str, variables: dict[str, Any]
) -> tuple[dict[str, Any], float]:
    response, elapsed = await timed(client.post(url, json={"query": query, "variables": variables}))
    assert response.status_code == 200, response.text
    return response.json(), elapsed


def assert_problem_503(response: httpx.Response, elapsed: float) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) >= 1, response.headers
    assert not [marker for marker in INTERNALS if marker in response.text], response.text
    assert elapsed < ANSWER_WITHIN, f"answered after {elapsed:.1f} s"


def assert_unavailable(body: dict[str, Any], elapsed: float) -> None:
    errors = body.get("errors") or []
    assert errors, body
    assert errors[0]["extensions"]["code"] == "SERVICE_UNAVAILABLE", body
    assert not [marker for marker in INTERNALS if marker in str(body)], body
    assert elapsed < ANSWER_WITHIN, f"answered after {elapsed:.1f} s"


async def retried_activity(temporal: Client, workflow_id: str, at_least: int) -> str:
    """The type of the run's pending activity once it is on attempt ``at_least`` (the server
    keeps only a placeholder of its last failure: the chained trace is over its size limit)."""
    handle = temporal.get_workflow_handle(workflow_id)
    deadline = time.monotonic() + 60
    while True:
        description = await handle.describe()
        pending = description.raw_description.pending_activities
        if pending and pending[0].attempt >= at_least:
            return pending[0].activity_type.name
        assert time.monotonic() < deadline, f"no retried activity: {pending}"
        await asyncio.sleep(0.5)


async def test_a_stopped_postgres_is_a_prompt_503_and_everything_recovers_when_it_is_back(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    credentials = {"email": platform.user.email, "password": platform.user.password}
    variables = {"e": platform.user.email, "p": platform.user.password}
    assert (await client.post(f"{platform.auth}/auth/login", json=credentials)).status_code == 200
    temporal = await connect_temporal(platform.settings)
    address = f"pg-down-{uuid.uuid4().hex[:8]}@example.com"

    await asyncio.to_thread(platform.stop_postgres)
    try:
        # Each of several: the first ones meet pooled connections the shutdown ended, the
        # later ones a refused connection attempt; both are the same 503.
        logins = [
            await timed(client.post(f"{platform.auth}/auth/login", json=credentials))
            for _ in range(4)
        ]
        gateway_login = await gql(client, platform.gateway, LOGIN, variables)
        ready, _ = await timed(client.get(f"{platform.auth}/health/ready"))
        # A sign-up needs only Temporal to start; its mail step needs the database and is
        # retried meanwhile.
        signed_up, _ = await gql(client, platform.gateway, SIGN_UP, {"e": address})
        run_id = signed_up["data"]["signUp"]["id"]
        retried = await retried_activity(temporal, run_id, at_least=2)
    finally:
        await asyncio.to_thread(platform.start_postgres)

    for response, elapsed in logins:
        assert_problem_503(response, elapsed)
    assert_unavailable(*gateway_login)
    assert ready.status_code == 503, ready.text
    checks = ready.json()["checks"]
    assert checks["postgres"].startswith("error"), checks
    assert checks["redis"] == "ok" and checks["temporal"] == "ok", checks
    assert retried == "auth.send_registration_mail", retried

    # Back: the very pools that saw the outage serve again, no restart.
    deadline = time.monotonic() + RECOVER_WITHIN
    while True:
        body, _ = await gql(client, platform.gateway, LOGIN, variables)
        if not body.get("errors") or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    assert not body.get("errors"), f"still failing {RECOVER_WITHIN} s after PostgreSQL: {body}"
    assert (await client.get(f"{platform.auth}/health/ready")).status_code == 200

    # The retried mail step went through, once.
    deadline = time.monotonic() + 60
    while platform.mails_to(address) == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    description = await temporal.get_workflow_handle(run_id).describe()
    assert description.status == WorkflowExecutionStatus.RUNNING  # waiting for the link
    assert platform.mails_to(address) == 1
