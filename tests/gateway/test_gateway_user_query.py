"""The ``user(id)`` query with hostile ids: a clear BAD_USER_INPUT that does not echo the value
(a megabyte id once came back whole), with or without a token."""

from __future__ import annotations

import httpx
import pytest

from services.auth.runtime import AuthRuntime
from tests.auth.users import create_user
from tests.graphql_client import gql
from tests.support import Stack

USER = "query($id: ID!) { user(id: $id) { id email } }"
LOGIN = """mutation($input: LoginInput!) { login(input: $input) { tokens { accessToken } } }"""


async def _token(stack: Stack, runtime: AuthRuntime) -> str:
    user = await create_user(runtime)
    login = await gql(
        stack.graphql, LOGIN, {"input": {"email": user.email, "password": user.password}}
    )
    return str(login["data"]["login"]["tokens"]["accessToken"])


@pytest.mark.parametrize(
    "bad_id",
    ["A" * 900_000, "not-a-uuid", "'; DROP TABLE users; --", "\u202e" + "0" * 36, "{" * 5000],
    ids=["megabyte", "word", "sql", "bidi", "braces"],
)
async def test_a_hostile_id_is_bad_user_input_without_an_echo(
    stack: Stack, auth_runtime: AuthRuntime, bad_id: str
) -> None:
    token = await _token(stack, auth_runtime)
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(
            stack.graphql,
            json={"query": USER, "variables": {"id": bad_id}},
            headers={"authorization": f"Bearer {token}"},
        )

    assert response.status_code == 200, response.text[:500]
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert len(response.content) < 2000
    assert bad_id[:20] not in error["message"]
