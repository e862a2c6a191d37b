"""Bad input on the core auth endpoints (login, refresh, logout, sessions, me): always a 4xx
problem+json, never a 500, and a rejected request writes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from services.auth.runtime import AuthRuntime
from storage.auth.models import AuditEvent, Session
from storage.db import transaction
from tests.auth.bad_input import MALFORMED
from tests.auth.users import AuthUser, login
from tests.problems import JSON, as_json, assert_problem, oversize


def bearer(tokens: dict[str, object]) -> dict[str, str]:
    return {"authorization": f"Bearer {tokens['access_token']}"}


async def written_for(runtime: AuthRuntime, user: AuthUser) -> tuple[int, int]:
    """(sessions, audit events) of ``user``: what a rejected request must leave unchanged."""
    async with transaction(runtime.resources.database) as db:
        sessions = await db.scalar(select(func.count()).where(Session.user_id == user.id))
        events = await db.scalar(select(func.count()).where(AuditEvent.user_id == user.id))
    return int(sessions or 0), int(events or 0)


async def streamed(data: bytes) -> AsyncIterator[bytes]:
    """The body in chunks without a content-length, so only the streamed count can catch it."""
    for start in range(0, len(data), 64 * 1024):
        yield data[start : start + 64 * 1024]


#: Not malformed for logout, whose body is optional and ignores unknown keys: JSON ``null`` is
#: "no body" and an object of unknown keys is ``{}`` (both: this session only).
LOGOUT_ACCEPTS = {"null", "nan"}


# --- /auth/login --------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", MALFORMED)
async def test_login_rejects_malformed_json(auth_client: httpx.AsyncClient, raw: bytes) -> None:
    assert_problem(await auth_client.post("/auth/login", content=raw, headers=JSON), 400, 422)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="empty-object"),
        pytest.param({"email": "a@example.com"}, id="no-password"),
        pytest.param({"password": "correct horse battery"}, id="no-email"),
        pytest.param({"email": None, "password": None}, id="nulls"),
        pytest.param({"email": 42, "password": "x" * 10}, id="email-number"),
        pytest.param({"email": ["a@example.com"], "password": "x" * 10}, id="email-list"),
        pytest.param({"email": {"$ne": ""}, "password": "x" * 10}, id="email-object"),
        pytest.param({"email": "a@example.com", "password": True}, id="password-bool"),
        pytest.param({"email": "a@example.com", "password": 12345678}, id="password-number"),
        pytest.param({"email": "", "password": ""}, id="empty-strings"),
        pytest.param({"email": "a" * 100_000, "password": "x"}, id="email-100k"),
        pytest.param({"email": "a@example.com", "password": "x" * 200_000}, id="password-200k"),
        pytest.param(
            {"email": "a@example.com", "password": "x" * 10, "tenant_id": "acme"},
            id="tenant-not-uuid",
        ),
        pytest.param(
            {"email": "a@example.com", "password": "x" * 10, "tenant_id": 7}, id="tenant-number"
        ),
    ],
)
async def test_login_rejects_missing_and_mistyped_fields(
    auth_client: httpx.AsyncClient, body: object
) -> None:
    problem = assert_problem(await auth_client.post("/auth/login", json=body), 422)
    assert problem["errors"], problem


async def test_login_rejections_create_no_session(
    auth_client: httpx.AsyncClient, user: AuthUser, auth_runtime: AuthRuntime
) -> None:
    """Each request carries the right e-mail and password, so a lax parser would sign in."""
    limit = auth_runtime.settings.max_body_bytes
    creds = {"email": user.email, "password": user.password}
    valid_json = httpx.Request("POST", "/", json=creds).content
    before = await written_for(auth_runtime, user)

    attempts = [
        await auth_client.post("/auth/login", json={**creds, "tenant_id": "not-a-uuid"}),
        await auth_client.post("/auth/login", json={**creds, "email": [user.email]}),
        # A JSON body sent as text/plain or a form is what a cross-site form post looks like.
        await auth_client.post(
            "/auth/login", content=valid_json, headers={"content-type": "text/plain"}
        ),
        await auth_client.post("/auth/login", data=creds),
        await auth_client.post("/auth/login", content=valid_json, headers={"content-type": ""}),
        await auth_client.post("/auth/login", content=oversize(limit, **creds), headers=JSON),
        await auth_client.post(
            "/auth/login", content=streamed(oversize(limit, **creds)), headers=JSON
        ),
    ]

    for response in attempts:
        assert_problem(response)
    assert [r.status_code for r in attempts[-2:]] == [413, 413]
    assert await written_for(auth_runtime, user) == before
    # The account is not locked out by any of that: the next proper login works.
    assert (await auth_client.post("/auth/login", json=creds)).status_code == 200


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ],
)
async def test_login_rejects_non_json_content_types(
    auth_client: httpx.AsyncClient, content_type: str
) -> None:
    body = b'{"email": "a@example.com", "password": "correct horse battery"}'
    response = await auth_client.post(
        "/auth/login", content=body, headers={"content-type": content_type}
    )
    assert_problem(response, 400, 415, 422)


async def test_login_password_at_the_bound_is_just_a_wrong_password(
    auth_client: httpx.AsyncClient, user: AuthUser
) -> None:
    response = await auth_client.post(
        "/auth/login", json={"email": user.email, "password": "p" * 1024}
    )
    assert_problem(response, 401)
    too_long = await auth_client.post(
        "/auth/login", json={"email": user.email, "password": "p" * 1025}
    )
    assert_problem(too_long, 422)


@pytest.mark.parametrize(
    "fields",
    [
        # PostgreSQL text cannot hold NUL (asyncpg: CharacterNotInRepertoireError).
        pytest.param({"email": "nul\u0000@example.com"}, id="nul-in-email"),
        pytest.param({"password": "nul\u0000password"}, id="nul-in-password"),
        pytest.param({"email": "\ud800@example.com"}, id="lone-surrogate-in-email"),
        pytest.param({"password": "lone \udfff surrogate"}, id="lone-surrogate-in-password"),
    ],
)
async def test_login_with_unstorable_characters_is_a_client_error(
    auth_client: httpx.AsyncClient,
    user: AuthUser,
    auth_runtime: AuthRuntime,
    fields: dict[str, str],
) -> None:
    """JSON may carry a NUL (PostgreSQL text cannot) or an unpaired surrogate (not encodable as
    UTF-8): either is a bad e-mail or a wrong password, never a crash."""
    before = await written_for(auth_runtime, user)
    response = await auth_client.post(
        "/auth/login",
        content=as_json({"email": user.email, "password": user.password, **fields}),
        headers=JSON,
    )
    assert_problem(response, 401, 422)
    assert (await written_for(auth_runtime, user))[0] == before[0]


# --- /auth/refresh ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", MALFORMED)
async def test_refresh_rejects_malformed_json(auth_client: httpx.AsyncClient, raw: bytes) -> None:
    assert_problem(await auth_client.post("/auth/refresh", content=raw, headers=JSON), 400, 422)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param({}, 422, id="missing"),
        pytest.param({"refresh_token": None}, 422, id="null"),
        pytest.param({"refresh_token": 12345678901234567890}, 422, id="number"),
        pytest.param({"refresh_token": ["a" * 43]}, 422, id="list"),
        pytest.param({"refresh_token": "short"}, 422, id="too-short"),
        pytest.param({"refresh_token": "a" * 100_000}, 422, id="100k"),
        pytest.param({"refresh_token": "a" * 43}, 401, id="unknown"),
        pytest.param({"refresh_token": "\u0000" * 43}, 401, id="nul-bytes"),
        pytest.param({"refresh_token": "\ud800" * 43}, 422, id="lone-surrogates"),
        pytest.param({"refresh_token": "' OR 1=1 --" * 4}, 401, id="sql-ish"),
    ],
)
async def test_refresh_rejects_bad_tokens(
    auth_client: httpx.AsyncClient, body: object, status: int
) -> None:
    response = await auth_client.post("/auth/refresh", content=as_json(body), headers=JSON)
    assert_problem(response, status)


async def test_refresh_rejections_do_not_spend_the_token(
    auth_client: httpx.AsyncClient, user: AuthUser, auth_runtime: AuthRuntime
) -> None:
    tokens = await login(auth_client, user)
    body = {"refresh_token": tokens["refresh_token"]}
    valid_json = httpx.Request("POST", "/", json=body).content
    limit = auth_runtime.settings.max_body_bytes

    rejected = [
        await auth_client.post(
            "/auth/refresh", content=valid_json, headers={"content-type": "text/plain"}
        ),
        await auth_client.post("/auth/refresh", data=body),
        await auth_client.post("/auth/refresh", content=oversize(limit, **body), headers=JSON),
        await auth_client.post(
            "/auth/refresh", content=streamed(oversize(limit, **body)), headers=JSON
        ),
    ]

    for response in rejected:
        assert_problem(response)
    assert [r.status_code for r in rejected[-2:]] == [413, 413]
    # Not rotated (a spent token would now revoke the session): it still works, once.
    assert (await auth_client.post("/auth/refresh", json=body)).status_code == 200


@pytest.mark.parametrize("path", ["/auth/login", "/auth/refresh", "/auth/logout"])
async def test_streamed_oversize_bodies_are_413(
    auth_client: httpx.AsyncClient, user: AuthUser, auth_runtime: AuthRuntime, path: str
) -> None:
    tokens = await login(auth_client, user)
    fields = {"email": user.email, "password": user.password, **tokens, "all_sessions": True}
    big = oversize(auth_runtime.settings.max_body_bytes, **fields)
    before = await written_for(auth_runtime, user)
    response = await auth_client.post(
        path, content=streamed(big), headers={**bearer(tokens), **JSON}
    )
    assert await written_for(auth_runtime, user) == before
    assert_problem(response, 413)


# --- authenticated endpoints --------------------------------------------------------------------

PROTECTED = [
    pytest.param("POST", "/auth/logout", id="logout"),
    pytest.param("GET", "/auth/sessions", id="sessions"),
    pytest.param("DELETE", f"/auth/sessions/{uuid.uuid4()}", id="revoke-session"),
    pytest.param("GET", "/auth/me", id="me"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("Bearer", id="scheme-only"),
        pytest.param("Bearer    ", id="blank-token"),
        pytest.param("Basic dXNlcjpwYXNzd29yZA==", id="basic"),
        pytest.param("Bearer not-a-jwt", id="garbage"),
        pytest.param("Bearer a.b.c", id="three-garbage-parts"),
        pytest.param("Bearer " + "eyJ" * 3000, id="8k-token"),
        pytest.param("Bearer eyJhbGciOiJFZERTQSJ9.e30.", id="no-kid"),
    ],
)
async def test_protected_endpoints_reject_bad_credentials(
    auth_client: httpx.AsyncClient, method: str, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    response = await auth_client.request(method, path, headers=headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_refresh_token_is_no_bearer_token(
    auth_client: httpx.AsyncClient, user: AuthUser
) -> None:
    tokens = await login(auth_client, user)
    response = await auth_client.get(
        "/auth/me", headers={"authorization": f"Bearer {tokens['refresh_token']}"}
    )
    assert_problem(response, 401)


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_protected_endpoints_reject_oversize_bodies(
    auth_client: httpx.AsyncClient,
    user: AuthUser,
    auth_runtime: AuthRuntime,
    method: str,
    path: str,
) -> None:
    tokens = await login(auth_client, user)
    big = oversize(auth_runtime.settings.max_body_bytes, all_sessions=True)
    headers = {**bearer(tokens), **JSON}
    assert_problem(await auth_client.request(method, path, content=big, headers=headers), 413)
    # Streamed, only an endpoint that reads its body can notice; none may act on it.
    response = await auth_client.request(method, path, content=streamed(big), headers=headers)
    assert response.status_code < 500 and response.status_code != 204, response.text
    # Not logged out (not even "everywhere") by a rejected request.
    assert (await auth_client.get("/auth/me", headers=bearer(tokens))).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        *(p for p in MALFORMED if p.id not in LOGOUT_ACCEPTS),
        pytest.param(b'{"all_sessions": "maybe"}', id="not-a-bool"),
    ],
)
async def test_logout_rejects_bad_bodies_and_keeps_the_session(
    auth_client: httpx.AsyncClient, user: AuthUser, auth_runtime: AuthRuntime, raw: bytes
) -> None:
    tokens = await login(auth_client, user)
    before = await written_for(auth_runtime, user)
    response = await auth_client.post(
        "/auth/logout", content=raw, headers={**bearer(tokens), **JSON}
    )
    assert_problem(response, 400, 422)
    assert await written_for(auth_runtime, user) == before
    assert (await auth_client.get("/auth/me", headers=bearer(tokens))).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"all_sessions": [True]}, id="list"),
        pytest.param({"all_sessions": {"value": True}}, id="object"),
        pytest.param({"all_sessions": 2}, id="number"),
        pytest.param({"all_sessions": "x" * 100_000}, id="long-string"),
    ],
)
async def test_logout_rejects_mistyped_all_sessions(
    auth_client: httpx.AsyncClient, user: AuthUser, body: object
) -> None:
    tokens = await login(auth_client, user)
    assert_problem(await auth_client.post("/auth/logout", json=body, headers=bearer(tokens)), 422)
    assert (await auth_client.get("/auth/me", headers=bearer(tokens))).status_code == 200


async def test_logout_all_sessions_is_not_triggered_by_a_non_json_body(
    auth_client: httpx.AsyncClient, user: AuthUser
) -> None:
    one, two = await login(auth_client, user), await login(auth_client, user)
    response = await auth_client.post(
        "/auth/logout",
        content=b'{"all_sessions": true}',
        headers={**bearer(one), "content-type": "text/plain"},
    )
    assert_problem(response, 400, 415, 422)
    assert (await auth_client.get("/auth/me", headers=bearer(two))).status_code == 200


@pytest.mark.parametrize(
    "session_id",
    [
        pytest.param("not-a-uuid", id="not-uuid"),
        pytest.param("1", id="number"),
        pytest.param("%00", id="nul"),
        pytest.param("'%20OR%201=1", id="sql-ish"),
        pytest.param("a" * 5000, id="5k-chars"),
        pytest.param(str(uuid.uuid4()) + "0", id="uuid-plus-one"),
    ],
)
async def test_revoke_session_rejects_bad_ids(
    auth_client: httpx.AsyncClient, user: AuthUser, auth_runtime: AuthRuntime, session_id: str
) -> None:
    tokens = await login(auth_client, user)
    before = await written_for(auth_runtime, user)
    response = await auth_client.delete(f"/auth/sessions/{session_id}", headers=bearer(tokens))
    assert_problem(response, 404, 422)
    assert await written_for(auth_runtime, user) == before


async def test_revoke_unknown_session_is_404(
    auth_client: httpx.AsyncClient, user: AuthUser
) -> None:
    tokens = await login(auth_client, user)
    response = await auth_client.delete(f"/auth/sessions/{uuid.uuid4()}", headers=bearer(tokens))
    assert_problem(response, 404)


@pytest.mark.parametrize("path", ["/auth/sessions", "/auth/me"])
async def test_reads_ignore_junk_query_and_bodies_within_the_limit(
    auth_client: httpx.AsyncClient, user: AuthUser, path: str
) -> None:
    tokens = await login(auth_client, user)
    response = await auth_client.request(
        "GET",
        path,
        params={"user_id": str(uuid.uuid4()), "x": "\u0000" * 10},
        content=b"[" * 1000,
        headers={**bearer(tokens), **JSON},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/auth/login"),
        ("PUT", "/auth/refresh"),
        ("GET", "/auth/logout"),
        ("POST", "/auth/me"),
        ("PATCH", "/auth/sessions"),
    ],
)
async def test_wrong_methods_are_405_problems(
    auth_client: httpx.AsyncClient, method: str, path: str
) -> None:
    assert_problem(await auth_client.request(method, path), 405)
