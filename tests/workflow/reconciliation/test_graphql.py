"""``startDataMigration`` through the gateway (in-process, its workflow calls to the workflow
app on the reconciliation stack's queues): an operator starts a dry run and reads its report
through ``workflowRun``; tenant admins and plain users are ``FORBIDDEN`` before anything starts;
bad input is a GraphQL error with a code, never a 500, and starts nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from temporalio.client import Client

from services.common.resources import Resources
from tests.auth.users import AuthUser
from tests.workflow.graphql.runs_graphql import code_of, runs_gateway
from tests.workflow.reconciliation.members import add_member, provisioned, remove_entry
from tests.workflow.reconciliation.test_reconciliation_routes import api_on
from tests.workflow.runs.runs_api import MANAGE, Caller, RunsApi, eventually
from workflows.reconciliation.data_migration import DataMigrationResult

START = """mutation($input: StartDataMigrationInput!) {
  startDataMigration(input: $input) { id type status accessToken }
}"""
RUN = """query($id: ID!, $token: String) {
  workflowRun(id: $id, accessToken: $token) { id type status result }
}"""
DETAILS = """query($id: ID!) { workflowRun(id: $id) { details { result } } }"""


async def test_an_operator_starts_a_dry_run_and_reads_its_result(
    temporal: Client,
    reconciliation_stack: Any,
    runs_api: RunsApi,
    gateway_resources: Resources,
    auth_resources: Resources,
    user: AuthUser,
) -> None:
    async with reconciliation_stack() as stack:
        api = api_on(runs_api, stack)
        tenant_id = await provisioned(temporal, stack, user.id)
        member = await add_member(stack, tenant_id)
        await remove_entry(stack, tenant_id, member)
        operator = api.operator_caller()

        async with runs_gateway(gateway_resources, auth_resources, api) as graphql:
            variables = {
                "input": {"tenantId": str(tenant_id), "copies": ["directory"], "batchSize": 10}
            }
            started = (await graphql.data(operator, START, variables))["startDataMigration"]
            assert started["type"] == "data_migration"
            assert started["id"].startswith(f"data-migration-{tenant_id}-")
            result = await temporal.get_workflow_handle(
                started["id"], result_type=DataMigrationResult
            ).result()

            async def completed() -> dict[str, Any]:
                variables = {"id": started["id"], "token": started["accessToken"]}
                run = (await graphql.data(None, RUN, variables))["workflowRun"]
                assert run["status"] == "COMPLETED", run
                return run  # type: ignore[no-any-return]

            followed = await eventually(completed)
            details = (await graphql.data(operator, DETAILS, {"id": started["id"]}))["workflowRun"][
                "details"
            ]

    assert [(r.copy, r.missing, r.sample) for r in result.reports] == [
        ("directory", 1, [str(member)])
    ]
    for shown in (followed["result"], details["result"]):
        report = shown["reports"][0]
        assert (report["copy"], report["missing"], report["sample"]) == (
            "directory",
            1,
            [str(member)],
        )


@pytest.mark.parametrize("who", ["admin_of_tenant", "admin_elsewhere", "plain_user"])
async def test_only_operators_start_a_run(
    runs_api: RunsApi,
    gateway_resources: Resources,
    auth_resources: Resources,
    temporal: Client,
    who: str,
) -> None:
    tenant_id = uuid.uuid4()
    caller = {
        "admin_of_tenant": Caller(uuid.uuid4(), tenant_id, MANAGE),
        "admin_elsewhere": Caller(uuid.uuid4(), uuid.uuid4(), MANAGE),
        "plain_user": Caller(uuid.uuid4(), None),
    }[who]

    async with runs_gateway(gateway_resources, auth_resources, runs_api) as graphql:
        body = await graphql.ask(
            caller, START, {"input": {"tenantId": str(tenant_id), "mode": "REPAIR"}}
        )

    assert code_of(body) == "FORBIDDEN", body
    assert body["data"] is None
    assert await _runs_of(temporal, tenant_id) == []


BAD_INPUTS: dict[str, dict[str, Any]] = {
    "batch size 0": {"batchSize": 0},
    "batch size too large": {"batchSize": 1001},
    "unknown copy": {"copies": ["profiles"]},
    "megabyte copy": {"copies": ["x" * 1_000_000]},
    "megabyte tenant id": {"tenantId": "x" * 1_000_000},
    "not a uuid": {"tenantId": "not-a-tenant"},
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
async def test_bad_input_is_a_coded_error_that_starts_nothing(
    runs_api: RunsApi,
    gateway_resources: Resources,
    auth_resources: Resources,
    temporal: Client,
    case: str,
) -> None:
    tenant_id = uuid.uuid4()
    variables = {"input": {"tenantId": str(tenant_id), **BAD_INPUTS[case]}}

    async with runs_gateway(gateway_resources, auth_resources, runs_api) as graphql:
        body = await graphql.ask(runs_api.operator_caller(), START, variables)

    assert code_of(body) == "BAD_USER_INPUT", body
    assert body["data"] is None
    assert "x" * 1000 not in str(body)
    assert await _runs_of(temporal, tenant_id) == []


@pytest.mark.parametrize("value", ["ten", 1.5, [10]])
async def test_a_wrong_type_is_a_graphql_error(
    runs_api: RunsApi, gateway_resources: Resources, auth_resources: Resources, value: Any
) -> None:
    variables = {"input": {"tenantId": str(uuid.uuid4()), "batchSize": value}}

    async with runs_gateway(gateway_resources, auth_resources, runs_api) as graphql:
        body = await graphql.ask(runs_api.operator_caller(), START, variables)

    assert body.get("errors") and body.get("data") is None, body


@pytest.mark.parametrize(
    "tenant_id", [b'"\\ud800"', b'"\xff\xfe"'], ids=["lone surrogate", "invalid utf-8"]
)
async def test_text_that_is_not_unicode_is_a_problem_not_a_500(
    runs_api: RunsApi,
    gateway_resources: Resources,
    auth_resources: Resources,
    tenant_id: bytes,
) -> None:
    query = json.dumps(START).encode()
    body = b'{"query": ' + query + b', "variables": {"input": {"tenantId": ' + tenant_id + b"}}}"
    headers = {
        "content-type": "application/json",
        "authorization": f"Bearer {runs_api.token(runs_api.operator_caller())}",
    }

    async with runs_gateway(gateway_resources, auth_resources, runs_api) as graphql:
        answer = await graphql.http.post("/graphql", content=body, headers=headers)

    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


async def _runs_of(temporal: Client, tenant_id: uuid.UUID) -> list[str]:
    query = f"WorkflowId STARTS_WITH 'data-migration-{tenant_id}'"
    return [run.id async for run in temporal.list_workflows(query)]
