"""MFA through the GraphQL gateway against running processes: enrol, activate, then a login
that needs the second factor."""

from __future__ import annotations

import pyotp

from services.auth.runtime import AuthRuntime
from tests.auth.users import create_user
from tests.graphql_client import gql
from tests.support import Stack

LOGIN = """mutation($input: LoginInput!) { login(input: $input) {
  mfaRequired mfaToken tokens { accessToken } } }"""
START = "mutation { startMfaSetup { workflowId secret otpauthUri } }"
ACTIVATE = "mutation($c: String!) { activateMfa(code: $c) { enabled recoveryCodes } }"
VERIFY = """mutation($t: String!, $f: SecondFactorInput!) {
  verifyMfa(mfaToken: $t, factor: $f) { accessToken } }"""
STATUS = "{ mfaStatus { enabled recoveryCodesLeft } }"
ME = "{ me { authMethods } }"


async def test_enrol_activate_and_sign_in_with_a_second_factor(
    stack: Stack, auth_runtime: AuthRuntime
) -> None:
    user = await create_user(auth_runtime)
    credentials = {"input": {"email": user.email, "password": user.password}}
    token = (await gql(stack.graphql, LOGIN, credentials))["data"]["login"]["tokens"]["accessToken"]

    setup = (await gql(stack.graphql, START, token=token))["data"]["startMfaSetup"]
    wrong = await gql(stack.graphql, ACTIVATE, {"c": "000000"}, token=token)
    activated = await gql(
        stack.graphql, ACTIVATE, {"c": pyotp.TOTP(setup["secret"]).now()}, token=token
    )
    status = await gql(stack.graphql, STATUS, token=token)
    second = (await gql(stack.graphql, LOGIN, credentials))["data"]["login"]
    bad_factor = await gql(
        stack.graphql, VERIFY, {"t": second["mfaToken"], "f": {"code": "123456"}}
    )
    recovery = activated["data"]["activateMfa"]["recoveryCodes"][0]
    completed = await gql(
        stack.graphql, VERIFY, {"t": second["mfaToken"], "f": {"recoveryCode": recovery}}
    )
    me = await gql(stack.graphql, ME, token=completed["data"]["verifyMfa"]["accessToken"])

    assert setup["otpauthUri"].startswith("otpauth://totp/")
    assert wrong["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert len(activated["data"]["activateMfa"]["recoveryCodes"]) == 10
    assert status["data"]["mfaStatus"] == {"enabled": True, "recoveryCodesLeft": 10}
    assert second["mfaRequired"] is True and second["tokens"] is None
    assert bad_factor["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert me["data"]["me"]["authMethods"] == ["pwd", "recovery"]


async def test_partial_token_is_not_an_access_token(
    stack: Stack, auth_runtime: AuthRuntime
) -> None:
    from storage.auth.models import Credential
    from storage.db import transaction

    user = await create_user(auth_runtime)
    async with transaction(auth_runtime.resources.database) as db:
        (await db.get(Credential, user.id)).mfa_enabled = True  # type: ignore[union-attr]
    login = await gql(
        stack.graphql, LOGIN, {"input": {"email": user.email, "password": user.password}}
    )

    me = await gql(stack.graphql, ME, token=login["data"]["login"]["mfaToken"])

    assert me["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
