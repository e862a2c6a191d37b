"""Authentication through the GraphQL gateway against running processes: login, me, sessions,
refresh, logout, and the gateway's own JWT validation (JWKS fetched from the auth service)."""

from __future__ import annotations

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.auth.runtime import AuthRuntime
from tests.auth.users import create_user
from tests.graphql_client import gql
from tests.service_runs import run_service
from tests.support import Stack

LOGIN = """mutation($input: LoginInput!) { login(input: $input) {
  mfaRequired tokens { accessToken refreshToken expiresIn sessionId tokenType } } }"""
ME = "{ me { userId sessionId roles authMethods } }"
SESSIONS = "{ mySessions { id current authMethods } }"
REFRESH = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }"
LOGOUT = "mutation { logout }"


async def test_login_me_refresh_logout_through_graphql(
    stack: Stack, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)

    logged_in = await gql(
        stack.graphql, LOGIN, {"input": {"email": user.email, "password": user.password}}
    )
    tokens = logged_in["data"]["login"]["tokens"]
    me = await gql(stack.graphql, ME, token=tokens["accessToken"])
    sessions = await gql(stack.graphql, SESSIONS, token=tokens["accessToken"])
    refreshed = await gql(stack.graphql, REFRESH, {"t": tokens["refreshToken"]})
    new_access = refreshed["data"]["refreshSession"]["accessToken"]
    out = await gql(stack.graphql, LOGOUT, token=new_access)
    after = await gql(stack.graphql, ME, token=new_access)

    assert logged_in["data"]["login"]["mfaRequired"] is False
    assert me["data"]["me"]["userId"] == str(user.id)
    assert me["data"]["me"]["authMethods"] == ["pwd"]
    assert [s["current"] for s in sessions["data"]["mySessions"]] == [True]
    assert out["data"]["logout"] is True
    assert after["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "revoked" in after["errors"][0]["message"]


async def test_wrong_password_and_anonymous_calls_get_clear_errors(
    stack: Stack, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)

    wrong = await gql(stack.graphql, LOGIN, {"input": {"email": user.email, "password": "nope!"}})
    anonymous_me = await gql(stack.graphql, ME)
    anonymous_sessions = await gql(stack.graphql, SESSIONS)
    bad_tenant = await gql(
        stack.graphql,
        LOGIN,
        {"input": {"email": user.email, "password": user.password, "tenantId": "x"}},
    )

    assert wrong["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert wrong["errors"][0]["message"] == "invalid e-mail or password"
    assert anonymous_me["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert anonymous_sessions["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert bad_tenant["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_gateway_rejects_tokens_not_signed_by_auth(
    stack: Stack, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    tokens = (
        await gql(stack.graphql, LOGIN, {"input": {"email": user.email, "password": user.password}})
    )["data"]["login"]["tokens"]
    claims = jwt.decode(tokens["accessToken"], options={"verify_signature": False})
    kid = jwt.get_unverified_header(tokens["accessToken"])["kid"]
    forged = jwt.encode(
        {**claims, "roles": ["owner"]}, Ed25519PrivateKey.generate(), "EdDSA", {"kid": kid}
    )
    hs = jwt.encode(claims, "s" * 32, "HS256", {"kid": kid})

    for token in (forged, hs, "garbage"):
        response = await gql(stack.graphql, ME, token=token)
        assert response["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", token


async def test_sso_providers_are_listed_through_graphql(stack: Stack) -> None:
    response = await gql(stack.graphql, "{ ssoProviders { name startPath } }")
    assert response == {"data": {"ssoProviders": []}}  # none configured in this stack


def test_invalid_sso_setting_stops_the_auth_process() -> None:
    result = run_service({"ADX_AUTH_SSO_PROVIDERS": "[{not json"})
    assert result.returncode != 0
    assert "ADX_AUTH_SSO_PROVIDERS" in result.stderr, result.stderr[-2000:]
