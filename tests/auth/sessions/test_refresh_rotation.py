"""Refresh rotation in one statement: what it must still refuse, and what it must still carry
(roles of the tenant now, the session's end as the new token's limit, one winner per token)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
from sqlalchemy import select, update

from services.auth.opaque import hash_token
from services.auth.runtime import AuthRuntime
from storage.auth.claims import ClaimsRepository
from storage.auth.models import RefreshToken, Session
from storage.db import transaction
from tests.auth.users import AuthUser, create_user, login


async def refresh(client: httpx.AsyncClient, token: object) -> httpx.Response:
    return await client.post("/auth/refresh", json={"refresh_token": token})


async def test_refresh_carries_the_tenant_and_its_current_roles(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    tenant = uuid.uuid4()
    member = await create_user(auth_runtime, tenant_roles={tenant: ["member"]})
    tokens = await login(auth_client, member, tenant_id=str(tenant))
    async with transaction(auth_runtime.resources.database) as db:
        await ClaimsRepository(db).put(member.id, tenant, ["admin"])

    rotated = await refresh(auth_client, tokens["refresh_token"])

    assert rotated.status_code == 200, rotated.text
    claims = jwt.decode(rotated.json()["access_token"], options={"verify_signature": False})
    assert claims["tid"] == str(tenant) and claims["roles"] == ["admin"]
    assert claims["sid"] == tokens["session_id"] == rotated.json()["session_id"]


async def test_two_refreshes_with_one_token_have_one_winner_and_end_the_session(
    auth_client: httpx.AsyncClient, user: AuthUser, auth_runtime: AuthRuntime
) -> None:
    # With the reuse interval at 0, as the suite runs (tests/conftest.py): with it on, both
    # get the same successor (tests/auth/sessions/test_refresh_reuse_interval.py).
    assert auth_runtime.settings.auth_refresh_reuse_seconds == 0
    tokens = await login(auth_client, user)

    first, second = await asyncio.gather(
        refresh(auth_client, tokens["refresh_token"]), refresh(auth_client, tokens["refresh_token"])
    )

    assert sorted([first.status_code, second.status_code]) == [200, 401]
    winner = first if first.status_code == 200 else second
    # The loser presented a spent token: reuse, so the winner's new token dies with the session.
    assert (await refresh(auth_client, winner.json()["refresh_token"])).status_code == 401


async def test_refresh_of_an_ended_session_is_refused_and_spends_nothing(
    auth_client: httpx.AsyncClient, user: AuthUser, auth_runtime: AuthRuntime
) -> None:
    tokens = await login(auth_client, user)
    logout = await auth_client.post(
        "/auth/logout", headers={"authorization": f"Bearer {tokens['access_token']}"}
    )
    assert logout.status_code == 204

    refused = await refresh(auth_client, tokens["refresh_token"])

    assert refused.status_code == 401 and refused.json()["detail"] == "session ended"
    async with transaction(auth_runtime.resources.database) as db:
        token = await db.scalar(
            select(RefreshToken).where(
                RefreshToken.token_hash == hash_token(str(tokens["refresh_token"]))
            )
        )
        count = len(
            (
                await db.scalars(
                    select(RefreshToken.id).where(
                        RefreshToken.session_id == uuid.UUID(str(tokens["session_id"]))
                    )
                )
            ).all()
        )
    assert token is not None and token.used_at is None and count == 1


async def test_expired_refresh_token_is_refused(
    auth_client: httpx.AsyncClient, user: AuthUser, auth_runtime: AuthRuntime
) -> None:
    tokens = await login(auth_client, user)
    digest = hash_token(str(tokens["refresh_token"]))
    async with transaction(auth_runtime.resources.database) as db:
        await db.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == digest)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )

    refused = await refresh(auth_client, tokens["refresh_token"])

    assert refused.status_code == 401 and refused.json()["detail"] == "refresh token expired"


async def test_new_refresh_token_expires_no_later_than_its_session(
    auth_client: httpx.AsyncClient, user: AuthUser, auth_runtime: AuthRuntime
) -> None:
    tokens = await login(auth_client, user)
    session_id = uuid.UUID(str(tokens["session_id"]))
    ends = datetime.now(UTC) + timedelta(hours=1)
    async with transaction(auth_runtime.resources.database) as db:
        await db.execute(update(Session).where(Session.id == session_id).values(expires_at=ends))

    rotated = await refresh(auth_client, tokens["refresh_token"])

    assert rotated.status_code == 200, rotated.text
    async with transaction(auth_runtime.resources.database) as db:
        new = await db.scalar(
            select(RefreshToken).where(
                RefreshToken.token_hash == hash_token(rotated.json()["refresh_token"])
            )
        )
        spent = await db.scalar(
            select(RefreshToken).where(
                RefreshToken.token_hash == hash_token(str(tokens["refresh_token"]))
            )
        )
    assert new is not None and new.session_id == session_id and new.expires_at == ends
    assert new.used_at is None and spent is not None and spent.used_at is not None
