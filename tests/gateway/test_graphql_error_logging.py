"""GraphQL errors in the gateway's logs (issue 6, finding 4): a client error is one line with the
operation and the code, no traceback; an unexpected error is one traceback without locals.
Before, every error (a wrong password included) was logged by Strawberry at ERROR with a Rich
traceback showing each frame's variables: the typed password, tokens, headers."""

from __future__ import annotations

import json
import time
import uuid

import graphql
import pytest
import strawberry

from schema.error_logging import VALIDATION_FAILED, LoggedErrorsSchema
from schema.errors import RATE_LIMITED, UNAUTHENTICATED, UserFacingError
from schema.schema import build_schema
from services.auth.service import create_auth_app
from services.common.resources import Resources
from services.common.settings import Settings
from tests.gateway.gateway_app import gateway_app, gateway_client
from tests.log_capture import captured_logs

PLANTED = f"planted-{uuid.uuid4().hex}"


def _check(password: str) -> None:
    attempt = {"password": password, "authorization": f"Bearer {password}"}  # noqa: F841
    raise UserFacingError("wrong e-mail or password", UNAUTHENTICATED)


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "hi"

    @strawberry.field
    def login(self, password: str) -> str:
        _check(password)
        return "never"

    @strawberry.field
    def throttled(self) -> str:
        raise UserFacingError("slow down", RATE_LIMITED, retryAfter=3)

    @strawberry.field
    def outage(self) -> str:
        try:
            raise TimeoutError("Timeout reading from 127.0.0.1:6379")
        except TimeoutError as error:
            raise RuntimeError("while checking the session") from error

    @strawberry.field
    def broken(self, password: str) -> str:
        secret_state = {"refresh": password}  # noqa: F841 - a local Rich would have shown
        raise RuntimeError("a bug")


SCHEMA = LoggedErrorsSchema(query=Query)


def _run(query: str, json_logs: bool, variables: dict[str, object] | None = None) -> list[str]:
    with captured_logs(Settings(log_json=json_logs, log_level="INFO"), "gateway") as lines:
        result = SCHEMA.execute_sync(query, variable_values=variables)
    assert result.errors
    return lines


@pytest.mark.parametrize("json_logs", [True, False], ids=["json", "console"])
@pytest.mark.parametrize(
    ("query", "code", "level"),
    [
        (f'query SignIn {{ login(password: "{PLANTED}") }}', UNAUTHENTICATED, "info"),
        ("query Throttled { throttled }", RATE_LIMITED, "warning"),
        (f'query Typo {{ helo(x: "{PLANTED}") }}', VALIDATION_FAILED, "info"),
        (f'query Bad {{ hello(password: "{PLANTED}" ', VALIDATION_FAILED, "info"),
        ("query Vars($p: Boolean!) { hello @include(if: $p) }", VALIDATION_FAILED, "info"),
    ],
    ids=["user-facing", "rate-limited", "validation", "syntax", "variables"],
)
def test_client_errors_are_one_line_with_operation_and_code(
    query: str, code: str, level: str, json_logs: bool
) -> None:
    lines = _run(query, json_logs, {"p": PLANTED} if "$p" in query else None)
    assert len(lines) == 1, lines
    line = lines[0]
    assert "\n" not in line and "Traceback" not in line and PLANTED not in line
    assert code in line and level in line
    if json_logs:
        entry = json.loads(line)
        assert (entry["event"], entry["code"], entry["level"]) == (
            "graphql_client_error",
            code,
            level,
        )
        if code != VALIDATION_FAILED or "Typo" in query:
            assert entry["operation"] == query.split()[1].split("(")[0]


@pytest.mark.parametrize("json_logs", [True, False], ids=["json", "console"])
def test_unexpected_errors_are_one_traceback_without_locals(json_logs: bool) -> None:
    lines = _run(f'query Broken {{ broken(password: "{PLANTED}") }}', json_logs)
    assert len(lines) == 1
    line = lines[0]
    assert "graphql_unexpected_error" in line and "RuntimeError: a bug" in line
    assert "Traceback (most recent call last)" in line
    # Source lines are shown, variable values never (Rich's show_locals printed them).
    assert PLANTED not in line
    assert "raise RuntimeError(" in line


@pytest.mark.parametrize("json_logs", [True, False], ids=["json", "console"])
def test_an_outage_is_one_warning_line(json_logs: bool) -> None:
    lines = _run("query Me { outage }", json_logs)
    assert len(lines) == 1
    line = lines[0]
    assert "graphql_dependency_unavailable" in line and "warning" in line
    assert "RuntimeError" in line and "TimeoutError" in line and "SERVICE_UNAVAILABLE" in line
    assert "\n" not in line and "Traceback" not in line


def test_the_gateway_schema_logs_errors_this_way() -> None:
    assert isinstance(build_schema(mask_errors=True), LoggedErrorsSchema)


# --- the real gateway, in-process ---------------------------------------------------------------


def _graphql_lines(lines: list[str]) -> list[dict[str, object]]:
    entries = [json.loads(line) for line in lines]
    return [e for e in entries if str(e.get("event", "")).startswith("graphql_")]


async def test_the_request_of_finding_1_is_one_short_line_at_the_cost_of_parsing_it(
    gateway_resources: Resources,
) -> None:
    """``{ user(id: "AAAA…") { id } }`` with no token: the error echoes the value, and its
    redaction was quadratic (20 KB: 1.7 s, 900 KB: over 12 minutes of gateway CPU). Now the
    request costs a small multiple of graphql-core parsing the same document."""
    query = '{ user(id: "' + "A" * 100_000 + '") { id } }'
    parse_started = time.process_time()
    graphql.parse(query)
    parse = time.process_time() - parse_started
    settings = gateway_resources.settings.model_copy(update={"log_json": True})
    async with gateway_client(gateway_app(gateway_resources)) as client:
        with captured_logs(settings, "gateway") as lines:
            started = time.process_time()
            answer = (await client.post("/graphql", json={"query": query})).json()
            spent = time.process_time() - started
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    [entry] = _graphql_lines(lines)
    assert (entry["event"], entry["code"], entry["path"]) == (
        "graphql_client_error",
        "BAD_USER_INPUT",
        "user",
    )
    assert all(len(line) < 2_000 and "Traceback" not in line for line in lines)
    assert spent < 20 * parse + 0.05, f"{spent:.2f} s of CPU; parsing alone {parse:.2f} s"


async def test_a_wrong_password_is_one_line_without_the_password(
    gateway_resources: Resources, auth_resources: Resources
) -> None:
    query = (
        "mutation SignIn($e: String!, $p: String!) "
        "{ login(input: {email: $e, password: $p}) { mfaRequired } }"
    )
    variables = {"e": f"nobody-{uuid.uuid4().hex[:10]}@example.com", "p": PLANTED}
    for json_logs in (True, False):
        settings = gateway_resources.settings.model_copy(update={"log_json": json_logs})
        async with gateway_client(
            gateway_app(gateway_resources), auth_app=create_auth_app(auth_resources)
        ) as client:
            with captured_logs(settings, "gateway") as lines:
                answer = (
                    await client.post("/graphql", json={"query": query, "variables": variables})
                ).json()
        assert answer["errors"][0]["extensions"]["code"] == UNAUTHENTICATED
        output = "\n".join(lines)
        assert PLANTED not in output and "Traceback" not in output
        graphql_lines = [line for line in lines if "graphql_" in line]
        assert len(graphql_lines) == 1 and UNAUTHENTICATED in graphql_lines[0]
        assert "SignIn" in graphql_lines[0]
