"""GraphQL errors in the gateway's logs (issue 6, finding 4): a client error is one line with the
operation and the code, no traceback; an unexpected error is one traceback without locals.
Before, every error (a wrong password included) was logged by Strawberry at ERROR with a Rich
traceback showing each frame's variables: the typed password, tokens, headers."""

from __future__ import annotations

import json
import uuid

import pytest
import strawberry

from schema.error_logging import VALIDATION_FAILED, LoggedErrorsSchema
from schema.errors import RATE_LIMITED, UNAUTHENTICATED, UserFacingError
from schema.schema import build_schema
from services.common.settings import Settings
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


def test_the_gateway_schema_logs_errors_this_way() -> None:
    assert isinstance(build_schema(mask_errors=True), LoggedErrorsSchema)
