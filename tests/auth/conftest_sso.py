"""SSO test fixtures: real OpenID providers (npm ``oidc-provider``, tests/oidc) started per run,
the auth app and its workers configured for them, and a scripted browser for the provider.

The SSO test modules import the fixtures they use from here (tests/auth/conftest.py is shared)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from temporalio.worker import Worker

from services.auth.runtime import AuthRuntime, runtime_for
from services.auth.service import create_auth_app
from services.auth.sso import FEATURE as SSO
from services.common.resources import Resources
from services.common.settings import ServiceName, Settings
from services.common.temporal import build_worker
from services.devstack.ports import free_port, wait_for_http
from services.devstack.processes import ManagedProcess, run_to_completion
from services.user.service import SPEC as USER
from tests.support import ROOT, RUN_ID, Infra

OIDC_DIR = ROOT / "tests" / "oidc"
CLIENT_ID = "adx-sso-test"
CLIENT_SECRET = f"secret-{uuid.uuid4().hex}"
#: Base URL of the in-process auth app; redirect URIs point here (the provider only redirects).
AUTH_BASE = "http://auth"


def redirect_uri(provider: str) -> str:
    return f"{AUTH_BASE}/auth/sso/{provider}/callback"


@dataclass
class OidcProviders:
    """Issuer URLs of the running providers: ``main`` and ``rogue`` (publishes a decoy key)."""

    main: str
    rogue: str

    def config(self) -> list[dict[str, Any]]:
        def entry(name: str, issuer: str, link: bool) -> dict[str, Any]:
            return {
                "name": name,
                "issuer": issuer,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uri": redirect_uri(name),
                "link_verified_email": link,
            }

        return [
            entry("main", self.main, True),
            # Same provider, but its policy forbids linking to existing accounts.
            entry("strict", self.main, False),
            entry("rogue", self.rogue, True),
        ]


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


@dataclass
class SsoEnv:
    """Auth and user resources whose settings name the test providers and their own task-queue
    prefix, served by workers of this module (so no other fixture's settings matter)."""

    providers: OidcProviders
    settings: Settings
    auth: Resources
    user: Resources

    @property
    def runtime(self) -> AuthRuntime:
        return runtime_for(self.auth)

    def variant(self, **overrides: Any) -> Resources:
        """The same connections under other settings (another queue prefix, other providers)."""
        return dataclasses.replace(self.auth, settings=self.settings.model_copy(update=overrides))


def sso_workers(
    env: SsoEnv, auth: Resources, user_activities: Sequence[Callable[..., Any]]
) -> list[Worker]:
    """An auth worker with the SSO capability and a user worker with ``user_activities``."""
    settings = auth.settings
    return [
        build_worker(
            auth.temporal,
            settings,
            task_queue=settings.task_queue(ServiceName.auth),
            workflows=SSO.workflows,
            activities=SSO.activities(auth),
        ),
        build_worker(
            env.user.temporal,
            settings,
            task_queue=settings.task_queue(ServiceName.user),
            activities=user_activities,
        ),
    ]


@asynccontextmanager
async def running(workers: list[Worker]) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    yield
    await asyncio.gather(*(worker.shutdown() for worker in workers))
    await asyncio.gather(*tasks, return_exceptions=True)


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


def client_on(resources: Resources) -> httpx.AsyncClient:
    """The auth app in-process over ``resources``, as one browser (its own cookies and address)."""
    address = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    transport = httpx.ASGITransport(app=create_auth_app(resources), client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=AUTH_BASE)


@pytest.fixture
async def sso_client(sso_env: SsoEnv) -> AsyncIterator[httpx.AsyncClient]:
    async with client_on(sso_env.auth) as client:
        yield client


async def add_account(
    issuer: str,
    *,
    email: str | None,
    email_verified: bool = True,
    name: str | None = "Test Person",
) -> str:
    """A new account at the provider; returns its subject (also its login hint)."""
    sub = f"sub-{uuid.uuid4().hex[:16]}"
    claims: dict[str, Any] = {"sub": sub, "email_verified": email_verified}
    if email is not None:
        claims["email"] = email
    if name is not None:
        claims["name"] = name
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{issuer}/test/accounts", json=claims)
    assert response.status_code == 204, response.text
    return sub


@dataclass
class Authorization:
    """What the provider sent back (the callback's query) and the state ``start`` issued."""

    state: str
    query: dict[str, str]


async def begin(
    client: httpx.AsyncClient, provider: str, login_hint: str, **params: str
) -> Authorization:
    """``start`` at the auth service, then the provider's login, up to its redirect back."""
    response = await client.get(
        f"/auth/sso/{provider}/start", params={"login_hint": login_hint, **params}
    )
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    state = parse_qs(urlsplit(location).query)["state"][0]
    return Authorization(state=state, query=await follow_provider(location))


async def follow_provider(url: str) -> dict[str, str]:
    """Follow the provider's redirects (a fresh browser: its own cookies) until it redirects to
    the auth service; returns that callback's query parameters."""
    async with httpx.AsyncClient() as browser:
        for _ in range(10):
            response = await browser.get(url)
            assert response.status_code in (302, 303), response.text
            url = str(response.url.join(response.headers["location"]))
            if url.startswith(AUTH_BASE + "/"):
                return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    raise AssertionError("the provider never redirected back")


async def finish(client: httpx.AsyncClient, provider: str, query: dict[str, str]) -> httpx.Response:
    return await client.get(f"/auth/sso/{provider}/callback", params=query)


def unique_email() -> str:
    return f"sso-{uuid.uuid4().hex[:12]}@example.com"
