"""Helpers of the run management GraphQL tests: the gateway in-process with its auth calls
going to the auth app and its workflow calls to the workflow app (both in-process, over the
test run's Temporal, PostgreSQL and Redis), callers with minted tokens (``RunsApi``), and the
operations the tests send."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from gateway.context import GatewayState
from services.auth.service import create_auth_app
from services.common.resources import Resources
from tests.gateway.gateway_app import gateway_app, gateway_client
from tests.workflow.runs.runs_api import Caller, RunsApi

RUNS = """query($filter: WorkflowRunFilter, $first: Int!, $after: String) {
  workflowRuns(filter: $filter, first: $first, after: $after) {
    edges { cursor node { workflowId runId type status tenantId userId historyLength } }
    pageInfo { hasNextPage endCursor }
  }
}"""
RUN = """query($id: ID!) { workflowRun(id: $id) {
  id type status error progress { step total label percent state }
  details {
    workflowId status historyLength tenantId userId retryOf payloadsVisible input result failure
    pendingActivities { activityId type attempt maximumAttempts lastFailure nextAttemptTime }
    children { workflowId type status }
  }
} }"""
STACK_TRACE = """query($id: ID!) { workflowRun(id: $id) { details { stackTrace } } }"""
HISTORY = """query($id: ID!) { workflowRun(id: $id) { details { history } } }"""
ACTION = """mutation($id: ID!, $reason: String) {
  %s(id: $id, reason: $reason) { action workflowId runId newWorkflowId newRunId }
}"""
CANCEL, RETRY, RESET = (
    ACTION % "cancelWorkflowRun",
    ACTION % "retryWorkflowRun",
    ACTION % "resetWorkflowRun",
)
BATCH = """mutation($input: WorkflowBatchInput!) {
  batchWorkflowOperation(input: $input) {
    action matched succeeded items { workflowId runId ok newWorkflowId error }
  }
}"""
INSIGHTS = """query($window: Int!) { workflowInsights(windowSeconds: $window) {
  windowSeconds since
  types { type total sampledRuns durationP50Seconds durationP95Seconds
          byStatus { status count } topFailures { reason count } }
} }"""


@dataclass
class RunsGraphql:
    """The gateway for ``api``'s callers."""

    http: httpx.AsyncClient
    api: RunsApi

    async def ask(
        self, caller: Caller | None, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        headers = {"content-type": "application/json"}
        if caller is not None:
            headers["authorization"] = f"Bearer {self.api.token(caller)}"
        # json.dumps escapes a lone surrogate (\\ud800), as a hostile client may send one.
        body = json.dumps({"query": query, "variables": variables or {}})
        answer = await self.http.post("/graphql", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    async def data(
        self, caller: Caller | None, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body = await self.ask(caller, query, variables)
        assert not body.get("errors"), body
        return body["data"]  # type: ignore[no-any-return]

    async def listed(self, caller: Caller, **filter: Any) -> list[dict[str, Any]]:
        data = await self.data(caller, RUNS, {"filter": filter, "first": 100})
        return [e["node"] for e in data["workflowRuns"]["edges"]]


def code_of(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or []
    return errors[0].get("extensions", {}).get("code") if errors else None


@asynccontextmanager
async def runs_gateway(
    gateway_resources: Resources, auth_resources: Resources, api: RunsApi
) -> AsyncIterator[RunsGraphql]:
    await api.publish_keys()
    app = gateway_app(gateway_resources)
    state: GatewayState = app.state.gateway
    workflow = state.services.workflow
    await workflow.http.aclose()
    workflow.http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api.app), base_url="http://workflow", timeout=30
    )
    async with gateway_client(app, auth_app=create_auth_app(auth_resources)) as client:
        yield RunsGraphql(client, api)
