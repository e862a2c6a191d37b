"""``POST /reconciliation/runs`` on the workflow service: an operator starts a dry run whose
report ``GET /runs/{id}`` then shows; tenant admins (of this or another tenant) and plain users
are refused before anything starts; bad input answers 4xx problem+json, never a 500."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from temporalio.client import Client

from services.workflow.service import create_workflow_app
from tests.auth.users import AuthUser
from tests.workflow.reconciliation.members import Stack, add_member, provisioned, remove_entry
from tests.workflow.runs.runs_api import MANAGE, Caller, RunsApi
from workflows.reconciliation.data_migration import DataMigrationResult


def api_on(runs_api: RunsApi, stack: Stack) -> RunsApi:
    """The workflow app starting runs on the stack's queues."""
    prefix = stack.workflow.removesuffix("-workflow")
    settings = runs_api.resources.settings.model_copy(update={"task_queue_prefix": prefix})
    resources = dataclasses.replace(runs_api.resources, settings=settings)
    return dataclasses.replace(runs_api, app=create_workflow_app(resources), resources=resources)


async def test_an_operator_starts_a_dry_run_and_reads_its_report(
    temporal: Client, reconciliation_stack: Any, runs_api: RunsApi, user: AuthUser
) -> None:
    async with reconciliation_stack() as stack:
        api = api_on(runs_api, stack)
        tenant_id = await provisioned(temporal, stack, user.id)
        member = await add_member(stack, tenant_id)
        await remove_entry(stack, tenant_id, member)

        async with api.client(api.operator_caller()) as client:
            started = await client.post(
                "/reconciliation/runs",
                json={"tenant_id": str(tenant_id), "copies": ["directory"], "batch_size": 10},
            )
            assert started.status_code == 202, started.text
            workflow_id = started.json()["workflow_id"]
            result = await temporal.get_workflow_handle(
                workflow_id, result_type=DataMigrationResult
            ).result()
            described = await client.get(f"/runs/{workflow_id}")

        assert [(r.copy, r.missing, r.sample) for r in result.reports] == [
            ("directory", 1, [str(member)])
        ]
        assert described.status_code == 200, described.text
        report = described.json()["result"]["reports"][0]
        assert (report["copy"], report["missing"], report["sample"]) == (
            "directory",
            1,
            [str(member)],
        )


@pytest.mark.parametrize("who", ["admin_of_tenant", "admin_elsewhere", "plain_user"])
async def test_only_operators_start_a_run(runs_api: RunsApi, who: str) -> None:
    tenant_id, other = uuid.uuid4(), uuid.uuid4()
    caller = {
        "admin_of_tenant": Caller(uuid.uuid4(), tenant_id, MANAGE),
        "admin_elsewhere": Caller(uuid.uuid4(), other, MANAGE),
        "plain_user": Caller(uuid.uuid4(), None),
    }[who]

    async with runs_api.client(caller) as client:
        answer = await client.post(
            "/reconciliation/runs", json={"tenant_id": str(tenant_id), "mode": "repair"}
        )

    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


BAD_BODIES: dict[str, dict[str, Any]] = {
    "batch size 0": {"batch_size": 0},
    "batch size 10^9": {"batch_size": 10**9},
    "batch size as text": {"batch_size": "5"},
    "unknown copy": {"copies": ["owner_names"]},
    "unknown mode": {"mode": "fix_everything"},
    "megabyte tenant id": {"tenant_id": "x" * 1_000_000},
    "tenant id as number": {"tenant_id": 5},
    "unknown field": {"scope": "all"},
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
async def test_bad_input_is_a_4xx_problem(runs_api: RunsApi, case: str) -> None:
    body = {"tenant_id": str(uuid.uuid4()), **BAD_BODIES[case]}

    async with runs_api.client(runs_api.operator_caller()) as client:
        answer = await client.post("/reconciliation/runs", json=body)

    assert 400 <= answer.status_code < 500, (case, answer.status_code, answer.text[:200])
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_invalid_utf8_is_a_4xx_problem(runs_api: RunsApi) -> None:
    async with runs_api.client(runs_api.operator_caller()) as client:
        answer = await client.post(
            "/reconciliation/runs",
            content=b'{"tenant_id": "\xff\xfe"}',
            headers={"content-type": "application/json"},
        )

    assert 400 <= answer.status_code < 500, answer.text[:200]
    assert answer.headers["content-type"].startswith("application/problem+json")
