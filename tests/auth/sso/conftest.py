"""SSO fixtures: the OpenID providers (session), the auth and user resources and workers
configured for them (session), and one in-process browser of the auth app per test
(helpers in tests/auth/sso/providers.py)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from services.common.resources import Resources
from services.common.settings import ServiceName, Settings
from services.devstack.ports import free_port, wait_for_http
from services.devstack.processes import ManagedProcess, run_to_completion
from services.user.service import SPEC as USER
from tests.auth.sso.providers import (
    CLIENT_ID,
    CLIENT_SECRET,
    OIDC_DIR,
    OidcProviders,
    SsoEnv,
    client_on,
    redirect_uri,
    running,
    sso_workers,
)
from tests.support import RUN_ID, Infra


def _npm_ci() -> None:
    if (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("the SSO tests need Node.js 20+ and npm (tests/oidc runs oidc-provider)")
    run_to_completion(
        "npm", [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(OIDC_DIR)], timeout=300
    )


def _start_provider(name: str, log_dir: Path, redirects: Sequence[str], **env: str) -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("the SSO tests need Node.js 20+ (tests/oidc runs oidc-provider)")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    process = ManagedProcess(
        f"oidc-{name}",
        [node, "provider.mjs", str(port)],
        env={
            **os.environ,
            "OIDC_ISSUER": issuer,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_REDIRECT_URIS": ",".join(redirects),
            **env,
        },
        cwd=OIDC_DIR,
        log_file=log_dir / f"oidc-{name}.log",
        echo=False,
        die_with_parent=True,
        stop_timeout=5,
    ).start()
    _PROCESSES.append(process)
    wait_for_http(f"{issuer}/.well-known/openid-configuration", 30, process=process)
    return issuer


_PROCESSES: list[ManagedProcess] = []


@pytest.fixture(scope="session")
def oidc_providers(infra: Infra) -> Iterator[OidcProviders]:
    _npm_ci()
    logs = infra.data_dir / "logs"
    try:
        providers = OidcProviders(
            main=_start_provider("main", logs, [redirect_uri("main"), redirect_uri("strict")]),
            rogue=_start_provider(
                "rogue", logs, [redirect_uri("rogue")], OIDC_HIDE_SIGNING_KEY="1"
            ),
        )
        yield providers
    finally:
        while _PROCESSES:
            _PROCESSES.pop().stop()


@pytest.fixture(scope="session")
async def sso_env(
    settings: Settings, oidc_providers: OidcProviders, user_resources: Resources
) -> AsyncIterator[SsoEnv]:
    local = settings.model_copy(
        update={
            "task_queue_prefix": f"sso{RUN_ID}",
            "auth_sso_providers": json.dumps(oidc_providers.config()),
        }
    )
    auth = await Resources.open(local, ServiceName.auth)
    env = SsoEnv(oidc_providers, local, auth, user_resources)
    try:
        async with running(sso_workers(env, auth, USER.activities(user_resources))):
            yield env
    finally:
        await auth.close()


@pytest.fixture
async def sso_client(sso_env: SsoEnv) -> AsyncIterator[httpx.AsyncClient]:
    async with client_on(sso_env.auth) as client:
        yield client
