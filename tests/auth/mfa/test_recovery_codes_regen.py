"""Replacing the recovery codes (``POST /auth/mfa/recovery-codes``, ``regenerateRecoveryCodes``):
a current TOTP code buys a fresh set shown once and stored hashed; every old code dies at once;
other sessions end; a wrong or replayed code, a missing MFA, a missing login or bad input
change nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.auth.mfa.recovery import hash_recovery_code
from services.auth.runtime import AuthRuntime
from storage.auth.models import RecoveryCode
from storage.db import transaction
from tests.auth.bad_input import MALFORMED
from tests.auth.mfa.mfa_flows import (
    MfaUser,
    alive,
    audit_events,
    bearer,
    mfa_token,
    mfa_user,
    verify,
)
from tests.auth.users import create_user, login
from tests.graphql_client import gql
from tests.problems import JSON, as_json, assert_problem
from tests.support import Stack

PATH = "/auth/mfa/recovery-codes"


async def stored_hashes(runtime: AuthRuntime, user_id: uuid.UUID) -> set[str]:
    async with transaction(runtime.resources.database) as db:
        return set(
            await db.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user_id))
        )


async def signed_in(client: httpx.AsyncClient, mfa: MfaUser, **factor: str) -> dict[str, Any]:
    """A full session of an MFA user, completed with ``factor``."""
    answer = await verify(client, await mfa_token(client, mfa.user), **factor)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def regenerate(
    client: httpx.AsyncClient, tokens: dict[str, Any], body: object
) -> httpx.Response:
    return await client.post(PATH, headers=bearer(tokens["access_token"]), json=body)


async def test_a_current_code_replaces_every_recovery_code(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    mfa = await mfa_user(auth_runtime)
    current = await signed_in(auth_client, mfa, code=mfa.code())
    other = await signed_in(auth_client, mfa, recovery_code=mfa.recovery_codes[0])

    answer = await regenerate(auth_client, current, {"code": mfa.code(1)})

    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    fresh = answer.json()["recovery_codes"]
    assert len(fresh) == 10 and len(set(fresh)) == 10
    assert not set(fresh) & set(mfa.recovery_codes)
    hashes = await stored_hashes(auth_runtime, mfa.user.id)
    assert hashes == {hash_recovery_code(mfa.user.id, c) for c in fresh}, "only hashes, new set"
    assert not hashes & set(fresh)
    status = await auth_client.get("/auth/mfa", headers=bearer(current["access_token"]))
    assert status.json() == {"enabled": True, "recovery_codes_left": 10}
    assert "mfa.recovery_codes_regenerated" in await audit_events(auth_runtime, mfa.user.id)
    # An old, never used code is dead at once; a new one works (once).
    old = await verify(
        auth_client, await mfa_token(auth_client, mfa.user), recovery_code=mfa.recovery_codes[1]
    )
    assert old.status_code == 401
    assert (await signed_in(auth_client, mfa, recovery_code=fresh[0]))["access_token"]
    # A changed factor ends the other sessions, not this one.
    assert await alive(auth_client, other) == (401, 401)
    assert await alive(auth_client, current) == (200, 200)


async def test_a_wrong_or_replayed_code_changes_nothing(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    mfa = await mfa_user(auth_runtime)
    login_code = mfa.code()
    current = await signed_in(auth_client, mfa, code=login_code)
    other = await signed_in(auth_client, mfa, recovery_code=mfa.recovery_codes[0])
    before = await stored_hashes(auth_runtime, mfa.user.id)
    valid = {mfa.code(d) for d in (-1, 0, 1, 2)}
    wrong = next(c for c in (f"{n:06d}" for n in range(1000)) if c not in valid)

    replayed = await regenerate(auth_client, current, {"code": login_code})
    guessed = await regenerate(auth_client, current, {"code": wrong})
    # A recovery code cannot mint new recovery codes.
    by_recovery = await regenerate(auth_client, current, {"recovery_code": mfa.recovery_codes[1]})

    assert_problem(replayed, 401)
    assert_problem(guessed, 401)
    assert_problem(by_recovery, 422)
    assert await stored_hashes(auth_runtime, mfa.user.id) == before
    assert await alive(auth_client, other) == (200, 200), "a refused change ended a session"
    assert "mfa.recovery_codes_regenerated" not in await audit_events(auth_runtime, mfa.user.id)
    assert await signed_in(auth_client, mfa, recovery_code=mfa.recovery_codes[1])


async def test_guessing_codes_is_throttled(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    mfa = await mfa_user(auth_runtime)
    tokens = await signed_in(auth_client, mfa, recovery_code=mfa.recovery_codes[0])
    before = await stored_hashes(auth_runtime, mfa.user.id)
    valid = {mfa.code(d) for d in (-1, 0, 1, 2)}
    wrong = next(c for c in (f"{n:06d}" for n in range(1000)) if c not in valid)

    answers = [
        (await regenerate(auth_client, tokens, {"code": wrong})).status_code for _ in range(6)
    ]
    blocked = await regenerate(auth_client, tokens, {"code": mfa.code()})

    assert answers == [401] * 5 + [429]
    assert_problem(blocked, 429)
    assert await stored_hashes(auth_runtime, mfa.user.id) == before


async def test_without_mfa_it_is_a_conflict(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    tokens = await login(auth_client, user)

    answer = await regenerate(auth_client, tokens, {"code": "123456"})

    assert "MFA is not enabled" in assert_problem(answer, 409)["detail"]
    assert await stored_hashes(auth_runtime, user.id) == set()


async def test_it_needs_a_signed_in_caller(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    mfa = await mfa_user(auth_runtime)
    before = await stored_hashes(auth_runtime, mfa.user.id)
    partial = await mfa_token(auth_client, mfa.user)

    for headers in ({}, bearer(partial), bearer("not.a.token"), {"authorization": "Basic eDp5"}):
        answer = await auth_client.post(PATH, headers=headers, json={"code": mfa.code()})
        assert_problem(answer, 401)

    assert await stored_hashes(auth_runtime, mfa.user.id) == before


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="missing"),
        pytest.param({"code": None}, id="null"),
        pytest.param({"code": 123456}, id="number"),
        pytest.param({"code": "12345"}, id="short"),
        pytest.param({"code": "1234567"}, id="long"),
        pytest.param({"code": "12a456"}, id="letters"),
        pytest.param({"code": "١٢٣٤٥٦"}, id="arabic-digits"),
        pytest.param({"code": ["123456"]}, id="list"),
        pytest.param({"code": "123456", "admin": True}, id="extra-field"),
        pytest.param({"code": "\u0000" * 6}, id="nul"),
    ],
)
async def test_bad_bodies_are_refused(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime, body: object
) -> None:
    mfa = await mfa_user(auth_runtime)
    tokens = await signed_in(auth_client, mfa, code=mfa.code())
    before = await stored_hashes(auth_runtime, mfa.user.id)

    answer = await auth_client.post(
        PATH, headers={**bearer(tokens["access_token"]), **JSON}, content=as_json(body)
    )

    assert_problem(answer, 422)
    assert await stored_hashes(auth_runtime, mfa.user.id) == before


@pytest.mark.parametrize("raw", MALFORMED)
async def test_malformed_json_is_a_problem(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime, raw: bytes
) -> None:
    user = await create_user(auth_runtime)
    tokens = await login(auth_client, user)
    answer = await auth_client.post(
        PATH, headers={**bearer(tokens["access_token"]), **JSON}, content=raw
    )
    assert_problem(answer, 400, 422)


# --- through the GraphQL gateway ----------------------------------------------------------------

LOGIN = """mutation($input: LoginInput!) { login(input: $input) { mfaToken } }"""
VERIFY = """mutation($t: String!, $f: SecondFactorInput!) {
  verifyMfa(mfaToken: $t, factor: $f) { accessToken } }"""
REGENERATE = "mutation($c: String!) { regenerateRecoveryCodes(code: $c) { recoveryCodes } }"


async def test_regenerate_through_the_gateway(stack: Stack, auth_runtime: AuthRuntime) -> None:
    mfa = await mfa_user(auth_runtime)
    credentials = {"input": {"email": mfa.user.email, "password": mfa.user.password}}
    partial = (await gql(stack.graphql, LOGIN, credentials))["data"]["login"]["mfaToken"]
    verified = await gql(stack.graphql, VERIFY, {"t": partial, "f": {"code": mfa.code()}})
    token = verified["data"]["verifyMfa"]["accessToken"]

    anonymous = await gql(stack.graphql, REGENERATE, {"c": mfa.code(1)})
    malformed = await gql(stack.graphql, REGENERATE, {"c": "abc"}, token=token)
    replayed = await gql(stack.graphql, REGENERATE, {"c": mfa.code()}, token=token)
    done = await gql(stack.graphql, REGENERATE, {"c": mfa.code(1)}, token=token)

    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert malformed["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert replayed["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    fresh = done["data"]["regenerateRecoveryCodes"]["recoveryCodes"]
    assert len(fresh) == 10
    assert await stored_hashes(auth_runtime, mfa.user.id) == {
        hash_recovery_code(mfa.user.id, c) for c in fresh
    }
