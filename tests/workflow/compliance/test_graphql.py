"""The GDPR mutations through the gateway (in-process, its workflow calls to the workflow app on
the compliance stack's queues): ``requestDataExport`` answers the person's ``gdpr_export`` run;
``requestAccountErasure`` the erasure run (its access token follows it), which
``cancelAccountErasure`` then cancels; ``decideAccountErasureTenants`` and bad input answer coded
GraphQL errors, never a 500, and start nothing."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from tests.auth.users import create_user
from tests.workflow.compliance.people import member_with_data, provisioned
from tests.workflow.graphql.runs_graphql import code_of, runs_gateway
from tests.workflow.runs.runs_api import eventually
from workflows.compliance.contracts import ErasureResult

pytestmark = pytest.mark.timeout(180)

EXPORT = "mutation { requestDataExport { id type status accessToken } }"
ERASE = """mutation($confirm: Boolean!) {
  requestAccountErasure(confirm: $confirm) { id type status accessToken }
}"""
CANCEL = """mutation($reason: String!) { cancelAccountErasure(reason: $reason) { cancelled } }"""
DECIDE = """mutation($d: [ErasureTenantDecision!]!) {
  decideAccountErasureTenants(decisions: $d) { waiting refused }
}"""
RUN = """query($id: ID!, $token: String) {
  workflowRun(id: $id, accessToken: $token) { id type status }
}"""


async def test_export_and_a_cancelled_erasure_through_graphql(
    temporal: Client,
    compliance_stack: Any,
    auth_runtime: AuthRuntime,
    gateway_resources: Resources,
    auth_resources: Resources,
) -> None:
    owner = await create_user(auth_runtime)
    async with compliance_stack(grace_seconds=600) as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        person = await member_with_data(auth_runtime, stack, tenant_id)
        async with runs_gateway(gateway_resources, auth_resources, stack.api) as graphql:
            export = (await graphql.data(person.caller, EXPORT))["requestDataExport"]
            assert export["type"] == "gdpr_export" and export["id"].startswith("gdpr-export-")

            refused = await graphql.ask(person.caller, ERASE, {"confirm": False})
            assert code_of(refused) == "BAD_USER_INPUT"
            nobody = await graphql.ask(person.caller, CANCEL, {"reason": ""})
            assert code_of(nobody) == "NOT_FOUND", nobody
            huge = await graphql.ask(person.caller, CANCEL, {"reason": "x" * 1_000_000})
            assert code_of(huge) is not None and "data" in huge
            bad = await graphql.ask(
                person.caller, DECIDE, {"d": [{"tenantId": "x", "newOwnerId": "y"}]}
            )
            assert code_of(bad) is not None
            # A deletion names no new owner; a well-formed one needs a running erasure.
            both = {"tenantId": str(tenant_id), "newOwnerId": str(owner.id), "action": "DELETE"}
            refused_both = await graphql.ask(person.caller, DECIDE, {"d": [both]})
            assert code_of(refused_both) == "BAD_USER_INPUT", refused_both
            delete = {"tenantId": str(tenant_id), "action": "DELETE"}
            no_erasure = await graphql.ask(person.caller, DECIDE, {"d": [delete]})
            assert code_of(no_erasure) == "NOT_FOUND", no_erasure
            anonymous = await graphql.ask(None, EXPORT)
            assert code_of(anonymous) == "UNAUTHENTICATED"

            erasure = (await graphql.data(person.caller, ERASE, {"confirm": True}))[
                "requestAccountErasure"
            ]
            assert erasure["type"] == "gdpr_erasure" and str(person.id) not in erasure["id"]

            async def in_grace() -> None:
                state = await temporal.get_workflow_handle(erasure["id"]).query("erasure_state")
                assert state["phase"] == "grace", state

            await eventually(in_grace)
            cancelled = (await graphql.data(person.caller, CANCEL, {"reason": "changed my mind"}))[
                "cancelAccountErasure"
            ]
            assert cancelled == {"cancelled": True}
            result = await temporal.get_workflow_handle(
                erasure["id"], result_type=ErasureResult
            ).result()
            followed = (
                await graphql.data(
                    None, RUN, {"id": erasure["id"], "token": erasure["accessToken"]}
                )
            )["workflowRun"]
    assert result.outcome == "cancelled"
    assert followed["status"] == "COMPLETED"
