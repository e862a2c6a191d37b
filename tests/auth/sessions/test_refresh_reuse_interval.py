"""The refresh reuse interval (ADX_AUTH_REFRESH_REUSE_SECONDS): two tabs refreshing with one token
at once both get the same successor instead of ending the session; a reuse after the interval,
or once the successor was itself used, still revokes the whole session; the successor is never
stored in clear.

The suite's own stack runs with the interval at 0 (tests/conftest.py), so the older tests keep
asserting that an immediate reuse revokes; here the interval is set explicitly: in-process over
ASGI for the rules, and over HTTP against a real auth process and a gateway for the race."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest
from sqlalchemy import select

from services.auth.opaque import hash_token
from services.auth.runtime import AuthRuntime
from services.auth.service import create_auth_app
from services.auth.sessions import SessionService, SuccessorSeal
from services.common.resources import Resources
from services.common.sealing import sealer_for
from services.common.settings import ServiceName
from services.devstack.ports import free_port, wait_for_http
from services.devstack.processes import ManagedProcess
from storage.auth.models import RefreshToken, Session
from storage.db import transaction
from tests.auth.users import AuthUser, login
from tests.in_process import in_process_client
from tests.support import Infra, start_service

#: Long enough for a loaded machine to answer both racing requests inside it.
INTERVAL = 3.0


@asynccontextmanager
async def auth_api(resources: Resources, reuse_seconds: float) -> AsyncIterator[httpx.AsyncClient]:
    """The auth API in-process with its own reuse interval."""
    app = create_auth_app(resources)
    runtime: AuthRuntime = app.state.auth
    local = runtime.settings.model_copy(update={"auth_refresh_reuse_seconds": reuse_seconds})
    sessions = SessionService(
        resources.database, runtime.issuer, resources.redis, resources.redis_keys, local
    )
    app.state.auth = dataclasses.replace(runtime, settings=local, sessions=sessions)
    async with in_process_client(app, base_url="http://auth") as client:
        yield client


async def refresh(
    client: httpx.AsyncClient, token: object, path: str = "/auth/refresh"
) -> httpx.Response:
    return await client.post(path, json={"refresh_token": token})


def bearer(access_token: object) -> dict[str, str]:
    return {"authorization": f"Bearer {access_token}"}


def sid(access_token: str) -> str:
    return str(jwt.decode(access_token, options={"verify_signature": False})["sid"])


async def row(runtime: AuthRuntime, token: object) -> RefreshToken:
    async with transaction(runtime.resources.database) as db:
        found = await db.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == hash_token(str(token)))
        )
    assert found is not None
    return found


async def revoked_reason(runtime: AuthRuntime, session_id: object) -> str | None:
    async with transaction(runtime.resources.database) as db:
        session = await db.get(Session, uuid.UUID(str(session_id)))
    assert session is not None
    return session.revoked_reason


# --- the rules, in-process -------------------------------------------------------------------


async def test_a_repeat_within_the_interval_gets_the_same_successor_and_a_valid_access_token(
    auth_resources: Resources, auth_runtime: AuthRuntime, user: AuthUser
) -> None:
    async with auth_api(auth_resources, INTERVAL) as client:
        first = await login(client, user)
        rotated = await refresh(client, first["refresh_token"])
        again = await refresh(client, first["refresh_token"])

        assert rotated.status_code == 200 and again.status_code == 200, again.text
        assert again.json()["refresh_token"] == rotated.json()["refresh_token"]
        assert again.json()["session_id"] == first["session_id"]
        assert sid(again.json()["access_token"]) == first["session_id"]
        me = await client.get("/auth/me", headers=bearer(again.json()["access_token"]))
        assert me.status_code == 200 and me.json()["session_id"] == first["session_id"]
        # The successor is an ordinary current token: it rotates, and the session lives on.
        onward = await refresh(client, again.json()["refresh_token"])
        assert onward.status_code == 200, onward.text
        assert await revoked_reason(auth_runtime, first["session_id"]) is None


async def test_the_successor_is_stored_sealed_never_in_clear(
    auth_resources: Resources, auth_runtime: AuthRuntime, user: AuthUser
) -> None:
    async with auth_api(auth_resources, INTERVAL) as client:
        first = await login(client, user)
        successor = (await refresh(client, first["refresh_token"])).json()["refresh_token"]

    spent = await row(auth_runtime, first["refresh_token"])
    assert spent.used_at is not None and spent.successor_sealed is not None
    assert successor not in spent.successor_sealed
    keys = sealer_for(auth_runtime.settings).keys
    assert spent.successor_sealed.startswith(f"{keys.active}:")
    seal = SuccessorSeal(keys)
    # Only the spent token opens it; the seal key alone (with any other token) does not.
    assert seal.open(str(first["refresh_token"]), spent.successor_sealed) == successor
    assert seal.open(successor, spent.successor_sealed) is None
    assert seal.open("x" * 43, spent.successor_sealed) is None
    tampered = (
        spent.successor_sealed[:-2] + ("A" if spent.successor_sealed[-2] != "A" else "B") + "A"
    )
    assert seal.open(str(first["refresh_token"]), tampered) is None
    # The current token has no successor yet.
    assert (await row(auth_runtime, successor)).successor_sealed is None


async def test_a_repeat_after_the_successor_was_used_revokes_the_session(
    auth_resources: Resources, auth_runtime: AuthRuntime, user: AuthUser
) -> None:
    async with auth_api(auth_resources, INTERVAL) as client:
        first = await login(client, user)
        second = (await refresh(client, first["refresh_token"])).json()
        third = await refresh(client, second["refresh_token"])
        assert third.status_code == 200

        replay = await refresh(client, first["refresh_token"])

        assert replay.status_code == 401
        assert replay.json()["detail"] == "refresh token already used; the session is revoked"
        assert (await refresh(client, third.json()["refresh_token"])).status_code == 401
        me = await client.get("/auth/me", headers=bearer(third.json()["access_token"]))
        assert me.status_code == 401
    assert await revoked_reason(auth_runtime, first["session_id"]) == "refresh_token_reuse"


async def test_a_repeat_after_the_interval_revokes_the_session(
    auth_resources: Resources, auth_runtime: AuthRuntime, user: AuthUser
) -> None:
    async with auth_api(auth_resources, 0.3) as client:
        first = await login(client, user)
        second = (await refresh(client, first["refresh_token"])).json()
        await asyncio.sleep(0.5)

        replay = await refresh(client, first["refresh_token"])

        assert replay.status_code == 401
        assert (await refresh(client, second["refresh_token"])).status_code == 401
        me = await client.get("/auth/me", headers=bearer(second["access_token"]))
        assert me.status_code == 401 and "revoked" in me.json()["detail"]
    assert await revoked_reason(auth_runtime, first["session_id"]) == "refresh_token_reuse"


async def test_zero_disables_the_interval_and_stores_no_successor(
    auth_resources: Resources, auth_runtime: AuthRuntime, user: AuthUser
) -> None:
    async with auth_api(auth_resources, 0) as client:
        first = await login(client, user)
        assert (await refresh(client, first["refresh_token"])).status_code == 200

        assert (await refresh(client, first["refresh_token"])).status_code == 401
    assert (await row(auth_runtime, first["refresh_token"])).successor_sealed is None
    assert await revoked_reason(auth_runtime, first["session_id"]) == "refresh_token_reuse"


async def test_a_repeat_of_a_logged_out_session_is_refused(
    auth_resources: Resources, user: AuthUser
) -> None:
    async with auth_api(auth_resources, INTERVAL) as client:
        first = await login(client, user)
        second = (await refresh(client, first["refresh_token"])).json()
        out = await client.post("/auth/logout", headers=bearer(second["access_token"]))
        assert out.status_code == 204

        assert (await refresh(client, first["refresh_token"])).status_code == 401


# --- the race, over HTTP against real processes ----------------------------------------------


@dataclass
class Processes:
    auth: str
    gateway: str


def started(process: ManagedProcess, url: str) -> str:
    wait_for_http(f"{url}/health/live", timeout=60, process=process)
    return url


@pytest.fixture(scope="module")
def processes(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    """An auth service (HTTP only: the stack's workers run the workflows) with the interval on,
    and a gateway in front of it."""
    log_dir: Path = tmp_path_factory.mktemp("refresh-reuse-logs")
    auth_port, gateway_port = free_port(), free_port()
    auth_url = f"http://127.0.0.1:{auth_port}"
    env = {
        **infra.env,
        "ADX_AUTH_PORT": str(auth_port),
        "ADX_GATEWAY_PORT": str(gateway_port),
        "ADX_AUTH_SERVICE_URL": auth_url,
        "ADX_AUTH_REFRESH_REUSE_SECONDS": str(INTERVAL),
    }
    running: list[ManagedProcess] = []
    try:
        running.append(
            start_service(ServiceName.auth, env, log_dir, mode="http", name="auth-reuse")
        )
        auth = started(running[-1], auth_url)
        running.append(
            start_service(ServiceName.gateway, env, log_dir, mode="http", name="gateway-reuse")
        )
        gateway = started(running[-1], f"http://127.0.0.1:{gateway_port}")
        yield Processes(auth=auth, gateway=gateway)
    finally:
        for process in reversed(running):
            process.stop()


REFRESH_SESSION = (
    "mutation($t: String!) { refreshSession(refreshToken: $t) "
    "{ accessToken refreshToken sessionId } }"
)


async def test_simultaneous_refreshes_over_http_all_get_the_same_successor(
    processes: Processes, auth_runtime: AuthRuntime, user: AuthUser
) -> None:
    async with httpx.AsyncClient(base_url=processes.auth, timeout=30) as client:
        first = await login(client, user)

        racing = await asyncio.gather(*(refresh(client, first["refresh_token"]) for _ in range(4)))

        assert [r.status_code for r in racing] == [200] * 4, [r.text for r in racing]
        successors = {r.json()["refresh_token"] for r in racing}
        assert len(successors) == 1 and first["refresh_token"] not in successors
        for response in racing:
            access = response.json()["access_token"]
            assert sid(access) == first["session_id"]
            me = await client.get("/auth/me", headers=bearer(access))
            assert me.status_code == 200, me.text
        # One rotation happened: one new token in the session, and it is current.
        async with transaction(auth_runtime.resources.database) as db:
            tokens = (
                await db.scalars(
                    select(RefreshToken).where(
                        RefreshToken.session_id == uuid.UUID(str(first["session_id"]))
                    )
                )
            ).all()
        assert len(tokens) == 2
        assert (await refresh(client, successors.pop())).status_code == 200


async def test_simultaneous_refresh_session_mutations_through_the_gateway(
    processes: Processes, user: AuthUser
) -> None:
    async with httpx.AsyncClient(base_url=processes.auth, timeout=30) as client:
        first = await login(client, user)
    async with httpx.AsyncClient(base_url=processes.gateway, timeout=30) as client:
        racing = await asyncio.gather(
            *(
                client.post(
                    "/graphql",
                    json={"query": REFRESH_SESSION, "variables": {"t": first["refresh_token"]}},
                )
                for _ in range(2)
            )
        )
        bodies = [r.json() for r in racing]
        assert all("errors" not in b for b in bodies), bodies
        one, two = (b["data"]["refreshSession"] for b in bodies)
        assert one["refreshToken"] == two["refreshToken"] != first["refresh_token"]
        assert one["sessionId"] == two["sessionId"] == first["session_id"]
        me = await client.post(
            "/graphql",
            json={"query": "{ me { sessionId } }"},
            headers=bearer(two["accessToken"]),
        )
        assert me.json()["data"]["me"]["sessionId"] == first["session_id"], me.text


async def test_a_reuse_after_the_interval_revokes_over_http(
    processes: Processes, auth_runtime: AuthRuntime, user: AuthUser
) -> None:
    async with httpx.AsyncClient(base_url=processes.auth, timeout=30) as client:
        first = await login(client, user)
        second = (await refresh(client, first["refresh_token"])).json()
        await asyncio.sleep(INTERVAL + 0.5)

        replay = await refresh(client, first["refresh_token"])

        assert replay.status_code == 401
        assert replay.json()["detail"] == "refresh token already used; the session is revoked"
        assert (await refresh(client, second["refresh_token"])).status_code == 401
        me = await client.get("/auth/me", headers=bearer(second["access_token"]))
        assert me.status_code == 401
    assert await revoked_reason(auth_runtime, first["session_id"]) == "refresh_token_reuse"
