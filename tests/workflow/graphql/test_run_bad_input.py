"""Hostile input to every run management operation: megabyte strings, invalid UTF-8 (a 422
problem before GraphQL), lone surrogates, wrong types, a bogus status, an invalid cursor, ``first: 1000``. Each is a GraphQL
error with a documented code (docs/gateway.md), never a 500, and nothing is changed."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.workflow.graphql.runs_graphql import (
    BATCH,
    CANCEL,
    INSIGHTS,
    RESET,
    RETRY,
    RUN,
    RUNS,
    RunsGraphql,
    code_of,
)
from tests.workflow.runs.probe_workflows import PROBE
from tests.workflow.runs.runs_api import MANAGE, Caller

MEGABYTE = "x" * 1_000_000
SURROGATE = "\ud800probe"
#: A variable of the wrong type or an unknown enum value is a validation error, which carries
#: no code (docs/gateway.md): ``None`` below.
BAD_INPUT, INVALID, COSTLY = "BAD_USER_INPUT", None, "QUERY_TOO_COSTLY"

#: (query, variables, expected code)
CASES: dict[str, tuple[str, dict[str, Any], str | None]] = {
    "list: first 1000": (RUNS, {"first": 1000}, COSTLY),
    "list: first 101": (RUNS, {"first": 101}, BAD_INPUT),
    "list: first 0": (RUNS, {"first": 0}, BAD_INPUT),
    "list: invalid cursor": (RUNS, {"first": 5, "after": "not-a-cursor"}, BAD_INPUT),
    "list: megabyte cursor": (RUNS, {"first": 5, "after": MEGABYTE}, BAD_INPUT),
    "list: megabyte type": (RUNS, {"first": 5, "filter": {"type": MEGABYTE}}, BAD_INPUT),
    "list: quote in type": (RUNS, {"first": 5, "filter": {"type": "x' OR '1'='1"}}, BAD_INPUT),
    "list: megabyte tenant": (RUNS, {"first": 5, "filter": {"tenantId": MEGABYTE}}, BAD_INPUT),
    "list: tenant not a uuid": (RUNS, {"first": 5, "filter": {"tenantId": "a' OR"}}, BAD_INPUT),
    "list: bogus status": (RUNS, {"first": 5, "filter": {"status": "EXPLODED"}}, INVALID),
    "list: status of a wrong type": (RUNS, {"first": 5, "filter": {"status": 7}}, INVALID),
    "list: first a string": (RUNS, {"first": "many"}, INVALID),
    "list: since not a time": (RUNS, {"first": 5, "filter": {"since": "yesterday"}}, INVALID),
    "list: since after until": (
        RUNS,
        {
            "first": 5,
            "filter": {"since": "2026-12-01T10:00:00+00:00", "until": "2026-11-01T10:00:00+00:00"},
        },
        BAD_INPUT,
    ),
    "run: megabyte id": (RUN, {"id": MEGABYTE}, BAD_INPUT),
    "list: user not a uuid": (RUNS, {"first": 5, "filter": {"userId": "me"}}, BAD_INPUT),
    # No run has such an id (Temporal says so before any path is built from it).
    "run: id with a slash": (RUN, {"id": "../runs/batch"}, "NOT_FOUND"),
    "cancel: megabyte id": (CANCEL, {"id": MEGABYTE}, BAD_INPUT),
    "cancel: path in id": (CANCEL, {"id": "x/../../batch"}, BAD_INPUT),
    "retry: megabyte reason": (RETRY, {"id": "probe-x", "reason": MEGABYTE}, BAD_INPUT),
    "reset: empty id": (RESET, {"id": ""}, BAD_INPUT),
    "reset: reason a number": (RESET, {"id": "probe-x", "reason": 5}, INVALID),
    "insights: window 10": (INSIGHTS, {"window": 10}, BAD_INPUT),
    "insights: window a string": (INSIGHTS, {"window": "hour"}, INVALID),
    "batch: limit 1000": (
        BATCH,
        {"input": {"action": "CANCEL", "reason": "r", "limit": 1000}},
        BAD_INPUT,
    ),
    "batch: empty reason": (BATCH, {"input": {"action": "CANCEL", "reason": ""}}, BAD_INPUT),
    "batch: bogus action": (BATCH, {"input": {"action": "DELETE", "reason": "r"}}, INVALID),
    "batch: megabyte filter": (
        BATCH,
        {"input": {"action": "CANCEL", "reason": "r", "filter": {"type": MEGABYTE}}},
        BAD_INPUT,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_hostile_input_is_a_graphql_error_with_its_code(
    graphql: RunsGraphql, case: str
) -> None:
    admin = Caller(uuid.uuid4(), uuid.uuid4(), MANAGE)
    waiting = await graphql.api.start(admin, "wait", label="bystander")
    query, variables, code = CASES[case]
    body = await graphql.ask(admin, query, variables)
    assert body.get("errors") and not body.get("data"), body
    assert code_of(body) == code, body
    message = body["errors"][0]["message"]
    assert MEGABYTE not in message and len(message) < 2000
    # Nothing half-written: the bystander run still runs on its first run.
    description = await waiting.describe()
    assert description.status is not None and description.status.name == "RUNNING"
    assert description.run_id == waiting.result_run_id
    await waiting.cancel()


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 5, "filter": {"type": SURROGATE}},
        {"first": 5, "filter": {"userId": SURROGATE}},
        {"first": 5, "after": SURROGATE},
    ],
)
async def test_a_lone_surrogate_is_a_422_problem(
    graphql: RunsGraphql, variables: dict[str, Any]
) -> None:
    admin = Caller(uuid.uuid4(), uuid.uuid4(), MANAGE)
    answer = await graphql.http.post(
        "/graphql",
        content=json.dumps({"query": RUNS, "variables": variables}),
        headers={
            "content-type": "application/json",
            "authorization": f"Bearer {graphql.api.token(admin)}",
        },
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_a_body_of_invalid_utf8_is_refused_without_a_500(graphql: RunsGraphql) -> None:
    admin = Caller(uuid.uuid4(), uuid.uuid4(), MANAGE)
    raw = b'{"query": "{ workflowRuns(first: 5, filter: {type: \\"\xff\xfe\\"}) { pageInfo { hasNextPage } } }"}'
    answer = await graphql.http.post(
        "/graphql",
        content=raw,
        headers={
            "content-type": "application/json",
            "authorization": f"Bearer {graphql.api.token(admin)}",
        },
    )
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_a_valid_filter_of_every_field_is_accepted(graphql: RunsGraphql) -> None:
    """The checks above refuse the hostile values only: a filter of every field is sent."""
    admin = Caller(uuid.uuid4(), uuid.uuid4(), MANAGE)
    variables = {
        "first": 5,
        "filter": {
            "type": PROBE,
            "status": "RUNNING",
            "tenantId": str(admin.tenant_id),
            "userId": str(admin.user_id),
            "since": "2026-01-01T00:00:00+00:00",
            "until": "2030-01-01T00:00:00+00:00",
        },
    }
    body = await graphql.ask(admin, RUNS, variables)
    assert not body.get("errors"), body
