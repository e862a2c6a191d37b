"""``bulkUserOperation`` and ``bulkUserOperationReport`` through GraphQL on the whole platform:
the owner changes roles of a CSV's rows, the answer is the ``bulk_user_operation`` run, which
completes, and the report shows each row (an unknown member's row failed alone). Bad input is a
``BAD_USER_INPUT`` (never a server error) that starts nothing; a member is ``FORBIDDEN``; another
tenant's report is ``NOT_FOUND``."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from tests.graphql_client import gql
from tests.support import Stack
from tests.tenant.graphql.tenant_graphql import code_of
from tests.user.graphql.user_graphql import seed_team, token_of

pytestmark = pytest.mark.timeout(180)

BULK = """mutation($input: BulkUserOperationInput!) {
  bulkUserOperation(input: $input) { id type status accessToken progress { step total label } }
}"""
RUN = """query($id: ID!, $t: String) {
  workflowRun(id: $id, accessToken: $t) { status error progress { step total label state } }
}"""
REPORT = """query($id: ID!) { bulkUserOperationReport(runId: $id) {
  workflowId kind status total done failed cancelled pending
  rows { rowNumber status error userId email }
} }"""


async def _wait(stack: Stack, run: dict[str, Any]) -> str:
    status = run["status"]
    for _ in range(240):
        if status not in ("RUNNING", "PENDING"):
            break
        await asyncio.sleep(0.5)
        state = await gql(stack.graphql, RUN, {"id": run["id"], "t": run["accessToken"]})
        assert not state.get("errors"), state
        status = state["data"]["workflowRun"]["status"]
    return str(status)


async def test_bulk_change_role_and_its_report(
    stack: Stack, auth_runtime: AuthRuntime, tenant_resources: Resources, user_resources: Resources
) -> None:
    team = await seed_team(
        auth_runtime,
        tenant_resources,
        user_resources,
        [("Olga", "owner"), ("Max", "member"), ("Mia", "member"), ("Ned", "member")],
    )
    other = await seed_team(auth_runtime, tenant_resources, user_resources, [("Bo", "owner")])
    (max_, _, _), (mia, _, _) = team.members[1], team.members[2]
    token = await token_of(stack.graphql, team.owner, team.tenant_id)
    csv = f"user_id,role\n{max_.id},admin\n{uuid.uuid4()},admin\n"
    rows = [{"email": mia.email, "role": "admin"}]

    started = await gql(
        stack.graphql, BULK, {"input": {"operation": "CHANGE_ROLE", "csv": csv}}, token=token
    )
    assert not started.get("errors"), started
    run = started["data"]["bulkUserOperation"]
    assert run["type"] == "bulk_user_operation" and run["accessToken"], run
    by_rows = await gql(
        stack.graphql, BULK, {"input": {"operation": "CHANGE_ROLE", "rows": rows}}, token=token
    )
    assert not by_rows.get("errors"), by_rows
    assert await _wait(stack, run) == "COMPLETED"
    assert await _wait(stack, by_rows["data"]["bulkUserOperation"]) == "COMPLETED"
    # The run's progress query, as workflowProgress streams it: rows handled of rows.
    state = await gql(stack.graphql, RUN, {"id": run["id"], "t": run["accessToken"]})
    progress = state["data"]["workflowRun"]["progress"]
    assert (progress["step"], progress["total"], progress["state"]) == (2, 2, "completed")
    assert "1 done, 1 failed of 2" in progress["label"]

    report = await gql(stack.graphql, REPORT, {"id": run["id"]}, token=token)
    assert not report.get("errors"), report
    got = report["data"]["bulkUserOperationReport"]
    assert (got["kind"], got["status"], got["total"], got["done"], got["failed"]) == (
        "change_role",
        "completed",
        2,
        1,
        1,
    )
    assert [(r["rowNumber"], r["status"], r["userId"]) for r in got["rows"]] == [
        (1, "done", str(max_.id)),
        (2, "failed", None),
    ]
    assert got["rows"][1]["error"] == "not a member of this tenant"

    # Another tenant's owner: the run is not theirs to read.
    theirs = await token_of(stack.graphql, other.owner, other.tenant_id)
    foreign = await gql(stack.graphql, REPORT, {"id": run["id"]}, token=theirs)
    assert code_of(foreign) == "NOT_FOUND", foreign
    # A plain member may neither start nor read one.
    member = await token_of(stack.graphql, team.members[3][0], team.tenant_id)
    refused = await gql(
        stack.graphql, BULK, {"input": {"operation": "DEACTIVATE", "csv": csv}}, token=member
    )
    unread = await gql(stack.graphql, REPORT, {"id": run["id"]}, token=member)
    assert code_of(refused) == code_of(unread) == "FORBIDDEN", (refused, unread)


BAD_INPUTS: list[dict[str, Any]] = [
    {"operation": "IMPORT"},  # neither csv nor rows
    {"operation": "IMPORT", "csv": "email\na@example.com\n", "rows": []},  # both
    {"operation": "IMPORT", "rows": {"email": "a@example.com"}},  # not a list
    {"operation": "IMPORT", "rows": "email"},
    {"operation": "IMPORT", "csv": "mail\na@example.com\n"},  # unknown column
    {"operation": "IMPORT", "csv": "email\n"},  # no rows
    {"operation": "IMPORT", "csv": "email\n\ud800@example.com\n"},  # a lone surrogate
    {"operation": "IMPORT", "csv": "e" * 600_000 + "\na@example.com\n"},  # a huge column
    {"operation": "IMPORT", "rows": [{"email": "a@b.ch"}] * 10_001},
    {"operation": "DROP", "csv": "email\na@example.com\n"},
    {"operation": 7, "csv": "email\na@example.com\n"},
    {"operation": "IMPORT", "csv": 12},
]


@pytest.mark.parametrize("bad", BAD_INPUTS)
async def test_bad_input_is_refused(
    bad: dict[str, Any],
    stack: Stack,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    team = await seed_team(auth_runtime, tenant_resources, user_resources, [("Olga", "owner")])
    token = await token_of(stack.graphql, team.owner, team.tenant_id)
    # Sent as ASCII JSON (``\\ud800`` escaped), as a client that does not check would send it.
    body = json.dumps({"query": BULK, "variables": {"input": bad}})
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(
            stack.graphql,
            content=body,
            headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        )
    assert response.status_code < 500, response.text[:500]
    answer = response.json()
    if response.status_code != 200:  # refused before GraphQL (a lone surrogate): problem+json
        assert response.status_code == 422 and answer["status"] == 422, answer
        return
    assert answer.get("errors"), answer
    assert code_of(answer) in ("BAD_USER_INPUT", None), answer  # None: a validation error
    assert "INTERNAL" not in str(answer)


@pytest.mark.parametrize("run_id", ["x" * 100_000, "bulk-user-operation-1", "../../users/me"])
async def test_bad_report_ids(
    run_id: str,
    stack: Stack,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    team = await seed_team(auth_runtime, tenant_resources, user_resources, [("Olga", "owner")])
    token = await token_of(stack.graphql, team.owner, team.tenant_id)
    answer = await gql(stack.graphql, REPORT, {"id": run_id}, token=token)
    assert code_of(answer) == "BAD_USER_INPUT" and len(str(answer)) < 2000, answer
