"""Bad input on every auth GraphQL operation is a GraphQL error (never a 500, never a crash),
and oversize or malformed requests to the gateway are 4xx."""

from __future__ import annotations

import httpx
import pytest

from tests.graphql_client import gql
from tests.support import Stack

BAD_OPERATIONS = [
    ('mutation { login(input: {email: "x"}) { mfaRequired } }', "password"),
    ("mutation { login(input: {email: 1, password: 2}) { mfaRequired } }", "String"),
    ('mutation { login(input: {email: "' + "a" * 5000 + '", password: "p"}) { mfaRequired } }', ""),
    ('mutation { refreshSession(refreshToken: "short") { accessToken } }', ""),
    ("mutation { refreshSession { accessToken } }", "refreshToken"),
    ('mutation { verifyEmail(token: "") }', ""),
    ('mutation { verifyEmail(token: "' + "x" * 4000 + '") }', ""),
    ('mutation { requestPasswordReset(email: "not-an-email") }', ""),
    ('mutation { confirmPasswordReset(token: "abc", newPassword: "x") }', ""),
    ('mutation { verifyMfa(mfaToken: "junk", factor: {code: "12"}) { accessToken } }', ""),
    ('mutation { verifyMfa(mfaToken: "junk", factor: {}) { accessToken } }', ""),
    ('mutation { revokeSession(id: "not-a-uuid") }', ""),
    ('mutation { activateMfa(code: "abcdef") { enabled } }', ""),
    ("mutation { startMfaSetup { secret } }", ""),
    ("mutation { disableMfa(factor: {}) }", ""),
    ("{ mfaStatus { enabled } }", ""),
    (
        'mutation { signUp(input: {email: "a@b.co", password: "password", displayName: "x"}) { id } }',
        "common",
    ),
    ("mutation { signUp(input: {}) { id } }", "email"),
]


@pytest.mark.parametrize(("operation", "hint"), BAD_OPERATIONS)
async def test_bad_auth_operation_is_a_graphql_error(
    stack: Stack, operation: str, hint: str
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(stack.graphql, json={"query": operation})

    assert response.status_code in (200, 400), response.text
    body = response.json()
    assert body.get("errors"), body
    message = body["errors"][0]["message"]
    assert "unexpected" not in message.lower() and "internal" not in message.lower(), message
    assert hint in message or not hint, message


async def test_request_password_reset_answers_true_for_any_valid_address(stack: Stack) -> None:
    response = await gql(
        stack.graphql, 'mutation { requestPasswordReset(email: "nobody@example.com") }'
    )
    assert response == {"data": {"requestPasswordReset": True}}


async def test_oversize_graphql_request_is_413(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            stack.graphql,
            content=b'{"query": "' + b"a" * (2 * 1024 * 1024) + b'"}',
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 413
