"""Schemathesis ``--checks all`` over every service's OpenAPI document (auth, user, file, workflow,
tenant, and the gateway's routes beside GraphQL), each service a real process as deployed: every
operation with valid and invalid data, boundary values (coverage phase), random data and
stateful sequences, with a valid access token on each request (a login at the auth service; the
codec endpoint's operator token for its routes) and — where a document declares the bearer
requirement — without one and with a broken one. No server error, and every response as
documented: status, content type, headers, body schema; invalid data refused, valid data
accepted.

The CLI runs as a subprocess (the way an operator runs it), with the hooks of
tests/platform/schemathesis_hooks.py; its output is shown on failure. A fixed seed makes a failure found
once show up again on every run."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import ServiceName
from services.devstack.ports import free_port, wait_for_http
from services.devstack.processes import ManagedProcess
from storage.db import transaction
from storage.users.repository import ProfileRepository
from tests.auth.users import AuthUser, create_user
from tests.support import ROOT, Infra, start_service

SEED = 20261126
#: Per operation and phase; with the coverage phase's boundary cases this keeps each service's
#: run within a minute or two on a shared machine.
MAX_EXAMPLES = 25
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
#: What no schema can state (which tokens and codes exist), per operation: tests/platform/schemathesis.toml
#: (auth); the user service's run reads the test user's own profile (``ADX_ST_USER_ID``).
CONFIG = {
    ServiceName.auth: ROOT / "tests" / "platform" / "schemathesis.toml",
    ServiceName.user: ROOT / "tests" / "platform" / "schemathesis-user.toml",
    ServiceName.tenant: ROOT / "tests" / "platform" / "schemathesis-tenant.toml",
    ServiceName.file: ROOT / "tests" / "platform" / "schemathesis-file.toml",
}
CORE_AUTH_OPERATIONS = {
    "POST /auth/login",
    "POST /auth/refresh",
    "POST /auth/logout",
    "GET /auth/sessions",
    "DELETE /auth/sessions/{session_id}",
    "GET /auth/me",
    "GET /.well-known/jwks.json",
}
#: Not REST: GraphQL has its own tests (tests/gateway/, tests/auth/**/test_gateway_*.py).
GATEWAY_EXCLUDED = r"^/graphql"

pytestmark = pytest.mark.timeout(900)


@dataclass
class Services:
    urls: dict[ServiceName, str]
    processes: dict[ServiceName, ManagedProcess]
    user: AuthUser
    codec_token: str


@pytest.fixture(scope="module")
async def services(
    infra: Infra, auth_runtime: AuthRuntime, user_resources: Resources
) -> AsyncIterator[Services]:
    """All six processes on their own Redis prefix and task queues (nothing they count, revoke
    or start leaks into other tests); auth with its worker (MFA set-up runs a workflow)."""
    ports = {service: free_port() for service in ServiceName}
    urls = {service: f"http://127.0.0.1:{port}" for service, port in ports.items()}
    redis_prefix = f"{infra.env['ADX_REDIS_PREFIX']}-schemathesis"
    codec_token = secrets.token_urlsafe(32)
    env = {
        **infra.env,
        **{f"ADX_{service.value.upper()}_PORT": str(port) for service, port in ports.items()},
        "ADX_AUTH_SERVICE_URL": urls[ServiceName.auth],
        "ADX_REDIS_PREFIX": redis_prefix,
        "ADX_TASK_QUEUE_PREFIX": f"{infra.env['ADX_TASK_QUEUE_PREFIX']}-schemathesis",
        "ADX_CODEC_OPERATOR_TOKEN": codec_token,
    }
    log_dir = infra.data_dir / "logs-schemathesis"
    processes: dict[ServiceName, ManagedProcess] = {}
    try:
        for service in ServiceName:
            mode = "both" if service == ServiceName.auth else "http"
            processes[service] = start_service(
                service, env, log_dir, mode=mode, name=f"{service.value}-schemathesis"
            )
        for service, url in urls.items():
            wait_for_http(f"{url}/health/live", timeout=90, process=processes[service])
        user = await create_user(auth_runtime)
        async with transaction(user_resources.database) as session:  # a profile to read
            await ProfileRepository(session).create(
                id_=user.id,
                email=user.email,
                display_name="Schemathesis",
                idempotency_key=f"st:{user.id}",
            )
        yield Services(urls, processes, user, codec_token)
    finally:
        for process in processes.values():
            process.stop()
        # The run's throttle counters (one per generated e-mail and client) go with it.
        redis = Redis.from_url(infra.env["ADX_REDIS_URL"])
        async for key in redis.scan_iter(match=f"{redis_prefix}:*", count=1000):
            await redis.delete(key)
        await redis.aclose()


def run_schemathesis(
    url: str,
    env: dict[str, str],
    workdir: Path,
    config: Path | None,
    *extra: str,
    max_examples: int = MAX_EXAMPLES,
    document: str = "/openapi.json",
) -> subprocess.CompletedProcess[str]:
    command = [
        str(SCHEMATHESIS),
        *(["--config-file", str(config)] if config else []),
        "run",
        f"{url}{document}",
        "--checks",
        "all",
        "--seed",
        str(SEED),
        "--max-examples",
        str(max_examples),
        "--request-timeout",
        "30",
        "--no-color",
        "--output-truncate",
        "false",
        "--suppress-health-check",
        "all",
        "--generation-database",
        "none",
        *extra,
    ]
    return subprocess.run(
        command,
        cwd=workdir,  # its crash files for `st replay` go there
        env={
            **os.environ,
            **env,
            "PYTHONPATH": str(ROOT),
            "SCHEMATHESIS_HOOKS": "tests.platform.schemathesis_hooks",
        },
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )


def operations(url: str) -> set[str]:
    document = httpx.get(f"{url}/openapi.json", timeout=30).json()
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    }


@pytest.mark.parametrize("service", list(ServiceName), ids=lambda s: s.value)
def test_every_service_conforms_to_its_openapi(
    services: Services, service: ServiceName, tmp_path: Path
) -> None:
    url = services.urls[service]
    env = {
        "ADX_ST_AUTH_URL": services.urls[ServiceName.auth],
        "ADX_ST_EMAIL": services.user.email,
        "ADX_ST_PASSWORD": services.user.password,
        "ADX_ST_USER_ID": str(services.user.id),
    }
    extra: list[str] = []
    if service == ServiceName.workflow:
        env["ADX_ST_BEARER"] = services.codec_token  # its only routes are the codec's
    if service == ServiceName.gateway:
        extra += ["--exclude-path-regex", GATEWAY_EXCLUDED]
    if service == ServiceName.auth:
        assert CORE_AUTH_OPERATIONS <= operations(url), CORE_AUTH_OPERATIONS - operations(url)

    result = run_schemathesis(url, env, tmp_path, CONFIG.get(service), *extra)

    print(result.stdout)  # shown by `pytest -rP`: what was tested, and schemathesis' warnings
    if result.returncode != 0:
        log = "\n".join(services.processes[service].tail(60))
        pytest.fail(
            f"schemathesis exited {result.returncode} for {service.value}:\n{result.stdout}\n"
            f"{result.stderr}\n--- {service.value} service log ---\n{log}"
        )


#: Mutations the fuzzing user must not run on itself: erasure revokes every session (and refuses
#: new ones for its grace period), so every later request would only test UNAUTHENTICATED.
GRAPHQL_EXCLUDED = ("Mutation.requestAccountErasure",)
#: Per operation and phase for GraphQL: ~65 root fields, each with the coverage phase's cases.
GRAPHQL_MAX_EXAMPLES = 6


def test_the_graphql_schema_holds_under_fuzzing(services: Services, tmp_path: Path) -> None:
    """Schemathesis over the gateway's GraphQL schema (loaded by introspection, which is on
    outside production and staging): every root query and mutation with generated arguments,
    valid and invalid, as the signed-in test user. No 5xx, no ``INTERNAL_SERVER_ERROR`` and no
    unclassified resolver error (``graphql_no_server_failure`` in the hooks). Schemathesis'
    ``positive_data_acceptance`` is off here: a schema-valid argument a service refuses (an
    e-mail that is not one, an unknown id) is a documented ``BAD_USER_INPUT``, not a defect. The
    response-time limit is 60 s, not 10: the runs fuzzing starts have no worker here (this fixture runs the
    services HTTP-only), so a field that queries such a run (``details { stackTrace }``) waits
    for its timeout and answers ``SERVICE_UNAVAILABLE``, as documented."""
    url = services.urls[ServiceName.gateway]
    env = {
        "ADX_ST_AUTH_URL": services.urls[ServiceName.auth],
        "ADX_ST_EMAIL": services.user.email,
        "ADX_ST_PASSWORD": services.user.password,
        "ADX_ST_USER_ID": str(services.user.id),
    }
    excluded = [arg for name in GRAPHQL_EXCLUDED for arg in ("--exclude-name", name)]
    result = run_schemathesis(
        f"{url}/graphql",
        env,
        tmp_path,
        None,
        "--exclude-checks",
        "not_a_server_error,positive_data_acceptance",
        "--max-response-time",
        "60",
        *excluded,
        max_examples=GRAPHQL_MAX_EXAMPLES,
        document="",
    )
    print(result.stdout)
    if result.returncode != 0:
        log = "\n".join(services.processes[ServiceName.gateway].tail(60))
        pytest.fail(
            f"schemathesis exited {result.returncode} for GraphQL:\n{result.stdout}\n"
            f"{result.stderr}\n--- gateway log ---\n{log}"
        )
