"""Bad input on every MFA endpoint: a 4xx problem+json, never a 500, and a rejected request
spends nothing (no code, no attempt, no partial token) and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from services.auth.runtime import AuthRuntime
from tests.auth.mfa.mfa_flows import access_token, bearer, mfa_enabled, mfa_token, mfa_user, verify
from tests.auth.users import create_user
from tests.problems import JSON, assert_problem, malformed, oversize

#: The MFA flow tests' client fixture (the auth API with the in-process workers' queues).

ACTIVATE, VERIFY, DISABLE = "/auth/mfa/activate", "/auth/mfa/verify", "/auth/mfa/disable"

MALFORMED = [*malformed("code", "123456"), pytest.param(b"", id="empty")]

BAD_CODES: list[Any] = [
    None,
    123456,
    12345.6,
    True,
    ["123456"],
    {"$ne": ""},
    "",
    "12345",
    "1234567",
    "12 456",
    "12a456",
    "١٢٣٤٥٦",  # Arabic-Indic digits: not what an authenticator shows
    "123456\n",
    "1" * 100_000,
]


@pytest.mark.parametrize("path", [ACTIVATE, VERIFY, DISABLE])
@pytest.mark.parametrize("raw", MALFORMED)
async def test_malformed_json_is_refused(
    client: httpx.AsyncClient,
    auth_runtime: AuthRuntime,
    path: str,
    raw: bytes,
) -> None:
    headers = {**JSON, **bearer(await access_token(client, await create_user(auth_runtime)))}
    assert_problem(await client.post(path, content=raw, headers=headers), 400, 422)


@pytest.mark.parametrize("code", BAD_CODES)
async def test_activate_refuses_bad_codes_without_costing_an_attempt(
    client: httpx.AsyncClient,
    auth_runtime: AuthRuntime,
    code: Any,
) -> None:
    auth = bearer(await access_token(client, await create_user(auth_runtime)))
    assert (await client.post("/auth/mfa/setup", headers=auth)).status_code == 200

    assert_problem(await client.post(ACTIVATE, headers=auth, json={"code": code}), 422)
    assert_problem(await client.post(ACTIVATE, headers=auth, json={}), 422)

    # The setup still has all its attempts.
    wrong = await client.post(ACTIVATE, headers=auth, json={"code": "000000"})
    if wrong.status_code == 200:
        pytest.skip("000000 happened to be the right code")
    assert assert_problem(wrong, 400)["attempts_left"] == 4


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="empty"),
        pytest.param({"code": "VALID"}, id="no-token"),
        pytest.param({"mfa_token": "TOKEN"}, id="no-factor"),
        pytest.param({"mfa_token": "TOKEN", "code": "VALID", "recovery_code": "RC"}, id="both"),
        pytest.param({"mfa_token": "TOKEN", "code": "VALID", "admin": True}, id="extra-field"),
        pytest.param({"mfa_token": None, "code": "VALID"}, id="token-null"),
        pytest.param({"mfa_token": ["TOKEN"], "code": "VALID"}, id="token-list"),
        pytest.param({"mfa_token": "TOKEN\u00e9", "code": "VALID"}, id="token-non-ascii"),
        pytest.param({"mfa_token": "TOKEN\ud800", "code": "VALID"}, id="token-surrogate"),
        pytest.param({"mfa_token": "TOKEN\u0000", "code": "VALID"}, id="token-nul"),
        pytest.param({"mfa_token": "a" * 5000, "code": "VALID"}, id="token-too-long"),
        pytest.param({"mfa_token": "TOKEN", "code": 123456}, id="code-number"),
        pytest.param({"mfa_token": "TOKEN", "code": "12345"}, id="code-short"),
        pytest.param({"mfa_token": "TOKEN", "recovery_code": 42}, id="recovery-number"),
        pytest.param({"mfa_token": "TOKEN", "recovery_code": "short"}, id="recovery-short"),
        pytest.param({"mfa_token": "TOKEN", "recovery_code": "a" * 65}, id="recovery-long"),
    ],
)
async def test_verify_refuses_bad_shapes_and_spends_nothing(
    client: httpx.AsyncClient,
    auth_runtime: AuthRuntime,
    body: dict[str, Any],
) -> None:
    """Each body carries a real partial token and real codes where it has them, so a lax parser
    would sign in; afterwards the same token and codes still work."""
    mfa = await mfa_user(auth_runtime)
    token = await mfa_token(client, mfa.user)
    code = mfa.code()
    filled = {
        key: value.replace("TOKEN", token)
        .replace("VALID", code)
        .replace("RC", mfa.recovery_codes[0])
        if isinstance(value, str)
        else value
        for key, value in body.items()
    }

    assert_problem(await verify_raw(client, filled), 422)

    ok = await verify(client, token, code=code)
    assert ok.status_code == 200, "the rejected request spent the token or the code"
    status = await client.get("/auth/mfa", headers=bearer(ok.json()["access_token"]))
    assert status.json()["recovery_codes_left"] == 10


async def verify_raw(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    # json.dumps keeps lone surrogates escaped (httpx's encoder would refuse them).
    return await client.post(VERIFY, content=json.dumps(body).encode(), headers=JSON)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("a.b.c", id="garbage"),
        pytest.param("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", id="alg-none"),
    ],
)
async def test_verify_refuses_bad_tokens(
    client: httpx.AsyncClient,
    token: str,
) -> None:
    assert_problem(await verify(client, token, code="123456"), 401, 422)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="empty"),
        pytest.param({"code": "VALID", "recovery_code": "RC"}, id="both"),
        pytest.param({"code": "VALID", "force": True}, id="extra-field"),
        pytest.param({"code": 0}, id="code-number"),
        pytest.param({"recovery_code": None}, id="recovery-null"),
        pytest.param({"code": "VALID" + "0"}, id="code-long"),
    ],
)
async def test_disable_refuses_bad_shapes_and_keeps_mfa(
    client: httpx.AsyncClient,
    auth_runtime: AuthRuntime,
    body: dict[str, Any],
) -> None:
    mfa = await mfa_user(auth_runtime)
    session = await verify(
        client, await mfa_token(client, mfa.user), recovery_code=mfa.recovery_codes[9]
    )
    auth = bearer(session.json()["access_token"])
    code = mfa.code()
    filled = {
        k: v.replace("VALID", code).replace("RC", mfa.recovery_codes[0])
        if isinstance(v, str)
        else v
        for k, v in body.items()
    }

    assert_problem(await client.post(DISABLE, headers=auth, json=filled), 422)

    assert await mfa_enabled(auth_runtime, mfa.user.id)
    # Neither the code's step nor the recovery code was spent.
    assert (await client.post(DISABLE, headers=auth, json={"code": code})).status_code == 204


async def test_every_mfa_endpoint_needs_its_credentials(
    client: httpx.AsyncClient,
    auth_runtime: AuthRuntime,
) -> None:
    user = await create_user(auth_runtime)
    for method, path, body in (
        ("POST", "/auth/mfa/setup", None),
        ("POST", ACTIVATE, {"code": "123456"}),
        ("POST", DISABLE, {"code": "123456"}),
        ("GET", "/auth/mfa", None),
    ):
        for headers in ({}, {"authorization": "Bearer nonsense"}, {"authorization": "Basic x"}):
            response = await client.request(method, path, headers=headers, json=body)
            assert_problem(response, 401)
            assert response.headers["www-authenticate"] == "Bearer"
    assert not await mfa_enabled(auth_runtime, user.id)


async def test_oversized_and_non_json_bodies_are_refused(
    client: httpx.AsyncClient,
    auth_runtime: AuthRuntime,
) -> None:
    mfa = await mfa_user(auth_runtime)
    token = await mfa_token(client, mfa.user)
    code = mfa.code()
    limit = auth_runtime.settings.max_body_bytes
    fields = {"mfa_token": token, "code": code}

    huge = await client.post(VERIFY, content=oversize(limit, **fields), headers=JSON)
    assert_problem(huge, 413)
    as_text = await client.post(
        VERIFY, content=json.dumps(fields).encode(), headers={"content-type": "text/plain"}
    )
    assert_problem(as_text, 400, 415, 422)
    as_form = await client.post(VERIFY, data=fields)
    assert_problem(as_form, 400, 415, 422)

    assert (await verify(client, token, code=code)).status_code == 200, "something was spent"
