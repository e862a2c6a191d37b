"""Machine-readable GraphQL errors (issue 6, findings 8 and 9): a throttled login carries
``extensions.retryAfter`` like every ``RATE_LIMITED``, and an outage raised from any resolver is
``SERVICE_UNAVAILABLE`` with a generic message, never the internal text."""

from __future__ import annotations

import uuid

import httpx
import pytest
from graphql import GraphQLError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from temporalio.service import RPCError, RPCStatusCode

from schema.errors import UserFacingError
from schema.extensions import OUTAGE_MESSAGE, is_outage
from services.auth.service import create_auth_app
from services.common.resources import Resources
from tests.gateway.gateway_app import gateway_app, gateway_client

LOGIN = (
    "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { mfaRequired } }"
)


async def test_a_throttled_login_through_graphql_carries_retry_after(
    gateway_resources: Resources, auth_resources: Resources
) -> None:
    email = f"nobody-{uuid.uuid4().hex[:10]}@example.com"
    variables = {"e": email, "p": "not the password at all"}
    free = auth_resources.settings.auth_login_free_attempts
    async with gateway_client(
        gateway_app(gateway_resources), auth_app=create_auth_app(auth_resources)
    ) as client:
        answers = [
            (await client.post("/graphql", json={"query": LOGIN, "variables": variables})).json()
            for _ in range(free + 2)
        ]

    codes = [a["errors"][0]["extensions"]["code"] for a in answers]
    assert codes[0] == "UNAUTHENTICATED"
    assert "RATE_LIMITED" in codes, codes
    for answer in answers:
        error = answer["errors"][0]
        if error["extensions"]["code"] == "RATE_LIMITED":
            retry_after = error["extensions"]["retryAfter"]
            assert isinstance(retry_after, int) and retry_after >= 1, error
            assert f"{retry_after} seconds" in error["message"]


@pytest.mark.parametrize(
    "error",
    [
        RedisTimeoutError("Timeout reading from 127.0.0.1:6379"),
        RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
        RPCError("tcp connect error", RPCStatusCode.UNAVAILABLE, b""),
        RPCError("deadline", RPCStatusCode.DEADLINE_EXCEEDED, b""),
        httpx.ConnectError("All connection attempts failed"),
        TimeoutError(),
    ],
    ids=repr,
)
def test_outages_are_recognised_through_the_cause_chain(error: Exception) -> None:
    wrapped = RuntimeError("while verifying the token")
    wrapped.__cause__ = error

    assert is_outage(error) and is_outage(wrapped)


@pytest.mark.parametrize(
    "error",
    [
        RPCError("not found", RPCStatusCode.NOT_FOUND, b""),
        RPCError("already started", RPCStatusCode.ALREADY_EXISTS, b""),
        ValueError("a bug"),
        UserFacingError("refused"),
    ],
    ids=repr,
)
def test_refusals_and_bugs_are_no_outages(error: Exception) -> None:
    assert not is_outage(error)


async def test_an_outage_inside_a_resolver_is_service_unavailable_in_every_environment(
    gateway_resources: Resources,
) -> None:
    """Redis refusing every connection: ``me`` has to check the session deny-list."""
    token_like = "eyJhbGciOiJFZERTQSIsImtpZCI6IngifQ.eyJzdWIiOiJ4In0.c2ln"
    for env in ("test", "production"):
        app = gateway_app(gateway_resources, production=env == "production")
        state = app.state.gateway

        async def down(*_: object, **__: object) -> object:
            raise RedisTimeoutError("Timeout reading from 127.0.0.1:6379")

        state.verifier.verify = down  # type: ignore[method-assign]
        async with gateway_client(app) as client:
            response = await client.post(
                "/graphql",
                json={"query": "{ me { userId } }"},
                headers={"authorization": f"Bearer {token_like}"},
            )
        error = response.json()["errors"][0]
        assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE", "retryAfter": 2}, env
        assert error["message"] == OUTAGE_MESSAGE
        assert "127.0.0.1" not in response.text and "Timeout" not in response.text


def test_user_facing_errors_are_left_alone() -> None:
    error = GraphQLError("x", original_error=UserFacingError("refused"))
    assert not is_outage(error.original_error)


# The circuit breakers' tests: tests/gateway/routing/test_breakers.py.
