"""The GDPR export rate limit: ``ADX_COMPLIANCE_EXPORTS_PER_PERSON`` requests per person in the
window start runs; the next is a 429 problem+json with ``Retry-After`` that starts nothing, and
through GraphQL ``requestDataExport`` a ``RATE_LIMITED`` error; another person is not limited by
the first one's requests."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from tests.auth.users import create_user
from tests.workflow.compliance.people import member_with_data, provisioned, runs_of
from tests.workflow.compliance.test_graphql import EXPORT
from tests.workflow.graphql.runs_graphql import code_of, runs_gateway
from tests.workflow.runs.runs_api import eventually

pytestmark = pytest.mark.timeout(400)


async def test_exports_beyond_the_limit_are_refused(
    temporal: Client,
    compliance_stack: Any,
    auth_runtime: AuthRuntime,
    gateway_resources: Resources,
    auth_resources: Resources,
) -> None:
    owner = await create_user(auth_runtime)
    async with compliance_stack() as stack:
        limit = stack.api.resources.settings.compliance_exports_per_person
        tenant_id = await provisioned(temporal, stack, owner.id)
        person = await member_with_data(auth_runtime, stack, tenant_id)
        other = await member_with_data(auth_runtime, stack, tenant_id)
        started: list[str] = []
        async with stack.api.client(person.caller) as client:
            for _ in range(limit - 1):
                answer = await client.post("/compliance/exports")
                assert answer.status_code == 202, answer.text
                started.append(answer.json()["workflow_id"])
        async with runs_gateway(gateway_resources, auth_resources, stack.api) as graphql:
            last = (await graphql.data(person.caller, EXPORT))["requestDataExport"]
            started.append(last["id"])
            refused_graphql = await graphql.ask(person.caller, EXPORT)
        async with stack.api.client(person.caller) as client:
            refused = await client.post("/compliance/exports")
        async with stack.api.client(other.caller) as client:
            theirs = await client.post("/compliance/exports")

        async def only_the_admitted_started() -> None:
            assert sorted(await runs_of(temporal, person.id)) == sorted(started)

        await eventually(only_the_admitted_started)
        for workflow_id in [*started, theirs.json()["workflow_id"]]:
            await temporal.get_workflow_handle(workflow_id).cancel()

    assert code_of(refused_graphql) == "RATE_LIMITED", refused_graphql
    assert not (refused_graphql.get("data") or {}).get("requestDataExport"), refused_graphql
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert (
        0
        < int(refused.headers["retry-after"])
        <= (stack.api.resources.settings.compliance_export_limit_window_seconds)
    )
    assert refused.json()["status"] == 429 and "export" in refused.json()["detail"]
    assert theirs.status_code == 202, theirs.text
    assert len(set(started)) == limit
