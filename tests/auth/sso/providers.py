"""SSO test helpers: real OpenID providers (npm ``oidc-provider``, tests/oidc) started per run,
the auth app and its workers configured for them, and a scripted browser for the provider.
The fixtures over them are in tests/auth/sso/conftest.py."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from temporalio.worker import Worker

from services.auth.runtime import AuthRuntime, runtime_for
from services.auth.service import create_auth_app
from services.auth.sso import FEATURE as SSO
from services.common.resources import Resources
from services.common.settings import ServiceName, Settings
from services.common.temporal import build_worker
from tests.in_process import in_process_client
from tests.support import ROOT

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


def client_on(resources: Resources) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """The auth app in-process over ``resources``, as one browser (its own cookies and address)."""
    return in_process_client(create_auth_app(resources), base_url=AUTH_BASE)


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
