"""Login, refresh rotation and reuse detection, logout, session listing and revocation."""

from __future__ import annotations

import uuid

import httpx
import jwt

from services.auth.runtime import AuthRuntime
from tests.auth.users import AuthUser, create_user, login


def bearer(tokens: dict[str, object]) -> dict[str, str]:
    return {"authorization": f"Bearer {tokens['access_token']}"}


async def test_login_issues_short_lived_eddsa_token_with_required_claims(
    auth_client: httpx.AsyncClient, user: AuthUser, auth_runtime: AuthRuntime
) -> None:
    tokens = await login(auth_client, user)

    header = jwt.get_unverified_header(str(tokens["access_token"]))
    claims = jwt.decode(str(tokens["access_token"]), options={"verify_signature": False})
    assert header["alg"] == "EdDSA" and header["kid"] == auth_runtime.keys.active.kid
    assert {"sub", "tid", "roles", "sid", "iat", "nbf", "exp", "iss", "aud"} <= claims.keys()
    assert claims["sub"] == str(user.id) and claims["exp"] - claims["iat"] <= 900
    assert len(str(tokens["refresh_token"])) >= 43  # 256 bits, base64url
    me = await auth_client.get("/auth/me", headers=bearer(tokens))
    assert me.status_code == 200 and me.json()["user_id"] == str(user.id)


async def test_refresh_rotates_and_reuse_revokes_the_session(
    auth_client: httpx.AsyncClient, user: AuthUser
) -> None:
    first = await login(auth_client, user)

    rotated = await auth_client.post(
        "/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]

    replay = await auth_client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401

    # The theft is assumed: every token of the session is now dead, including the newest.
    after = await auth_client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401
    me = await auth_client.get("/auth/me", headers=bearer(second))
    assert me.status_code == 401 and "revoked" in me.json()["detail"]


async def test_logout_ends_this_session_only(
    auth_client: httpx.AsyncClient, user: AuthUser
) -> None:
    one, two = await login(auth_client, user), await login(auth_client, user)

    out = await auth_client.post("/auth/logout", headers=bearer(one))

    assert out.status_code == 204
    assert (await auth_client.get("/auth/me", headers=bearer(one))).status_code == 401
    assert (await auth_client.get("/auth/me", headers=bearer(two))).status_code == 200
    refresh = await auth_client.post("/auth/refresh", json={"refresh_token": one["refresh_token"]})
    assert refresh.status_code == 401


async def test_logout_everywhere(auth_client: httpx.AsyncClient, user: AuthUser) -> None:
    one, two = await login(auth_client, user), await login(auth_client, user)

    out = await auth_client.post("/auth/logout", headers=bearer(one), json={"all_sessions": True})

    assert out.status_code == 204
    for tokens in (one, two):
        assert (await auth_client.get("/auth/me", headers=bearer(tokens))).status_code == 401


async def test_list_and_revoke_own_sessions_but_not_others(
    auth_client: httpx.AsyncClient, user: AuthUser, auth_runtime: AuthRuntime
) -> None:
    mine, other_device = await login(auth_client, user), await login(auth_client, user)
    stranger = await create_user(auth_runtime)
    theirs = await login(auth_client, stranger)

    listed = (await auth_client.get("/auth/sessions", headers=bearer(mine))).json()
    assert {s["id"] for s in listed} == {mine["session_id"], other_device["session_id"]}
    assert [s["current"] for s in listed if s["id"] == mine["session_id"]] == [True]

    foreign = await auth_client.delete(
        f"/auth/sessions/{theirs['session_id']}", headers=bearer(mine)
    )
    assert foreign.status_code == 404
    assert (await auth_client.get("/auth/me", headers=bearer(theirs))).status_code == 200

    revoked = await auth_client.delete(
        f"/auth/sessions/{other_device['session_id']}", headers=bearer(mine)
    )
    assert revoked.status_code == 204
    assert (await auth_client.get("/auth/me", headers=bearer(other_device))).status_code == 401


async def test_tenant_login_carries_tenant_and_roles(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    member = await create_user(auth_runtime, tenant_roles={tenant: ["admin", "member"]})

    tokens = await login(auth_client, member, tenant_id=str(tenant))
    claims = jwt.decode(str(tokens["access_token"]), options={"verify_signature": False})
    assert claims["tid"] == str(tenant) and claims["roles"] == ["admin", "member"]

    refused = await auth_client.post(
        "/auth/login",
        json={"email": member.email, "password": member.password, "tenant_id": str(other)},
    )
    assert refused.status_code == 403


async def test_unverified_account_cannot_sign_in(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    pending = await create_user(auth_runtime, verified=False)
    response = await auth_client.post(
        "/auth/login", json={"email": pending.email, "password": pending.password}
    )
    # Same answer as a wrong password: a 403 would tell a squatter the address was free.
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid e-mail or password"


async def test_jwks_publishes_the_active_key(
    auth_client: httpx.AsyncClient, auth_runtime: AuthRuntime
) -> None:
    document = (await auth_client.get("/.well-known/jwks.json")).json()
    kids = [k["kid"] for k in document["keys"]]
    assert auth_runtime.keys.active.kid in kids
    assert all(k["kty"] == "OKP" and "d" not in k for k in document["keys"]), "private part leaked"
