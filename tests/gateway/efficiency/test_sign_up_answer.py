"""``signUp`` answers its run from the start alone: one Temporal call (the start), no describe
and no ``progress`` query after it (they waited for the worker's first workflow task), unless
the operation asks for ``progress``; the access token it hands out opens the run. An
in-process gateway on a task-queue prefix of its own, a worker of the registration workflow
alone on it (its activities never run: the runs are terminated)."""

from __future__ import annotations

import asyncio
import collections
import uuid
from typing import Any

from temporalio.client import (
    Client,
    DescribeWorkflowInput,
    Interceptor,
    OutboundInterceptor,
    QueryWorkflowInput,
    StartWorkflowInput,
)

from gateway.context import GatewayState
from gateway.run_access import identify_run
from services.common.resources import Resources
from services.common.settings import ServiceName
from services.common.temporal import build_worker
from tests.gateway.gateway_app import gateway_app, gateway_client
from workflows.auth.user_registration import UserRegistrationWorkflow

SIGN_UP = """mutation($input: SignUpInput!) {
  signUp(input: $input) { id type status accessToken }
}"""
SIGN_UP_WITH_PROGRESS = """mutation($input: SignUpInput!) {
  signUp(input: $input) { id status accessToken progress { step total } }
}"""
RUN = """query($id: ID!, $t: String) {
  workflowRun(id: $id, accessToken: $t) { id status progress { step } }
}"""


class _Counted(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, calls: collections.Counter[str]) -> None:
        super().__init__(next)
        self.calls = calls

    async def start_workflow(self, input: StartWorkflowInput) -> Any:
        self.calls["start"] += 1
        return await self.next.start_workflow(input)

    async def describe_workflow(self, input: DescribeWorkflowInput) -> Any:
        self.calls["describe"] += 1
        return await self.next.describe_workflow(input)

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        self.calls["query"] += 1
        return await self.next.query_workflow(input)


class _Counter(Interceptor):
    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Counted(next, self.calls)


def _sign_up() -> dict[str, Any]:
    email = f"answer-{uuid.uuid4().hex[:12]}@example.com"
    return {"input": {"email": email, "password": "correct horse battery", "displayName": "A"}}


async def test_sign_up_answers_from_its_start_and_its_token_opens_the_run(
    gateway_resources: Resources, temporal: Client
) -> None:
    app = gateway_app(gateway_resources, task_queue_prefix=f"answer{uuid.uuid4().hex[:8]}")
    state: GatewayState = app.state.gateway
    counter = _Counter()
    config = state.temporal.config()
    config["interceptors"] = [counter, *config["interceptors"]]
    state.temporal = state.relay.temporal = Client(**config)
    worker = build_worker(
        temporal,
        state.settings,
        task_queue=state.settings.task_queue(ServiceName.auth),
        workflows=[UserRegistrationWorkflow],
    )
    running = asyncio.create_task(worker.run())
    try:
        await _journey(app, state, counter)
    finally:
        await worker.shutdown()
        await asyncio.gather(running, return_exceptions=True)


async def _journey(app: Any, state: GatewayState, counter: _Counter) -> None:
    async with gateway_client(app) as client:
        answer = (
            await client.post("/graphql", json={"query": SIGN_UP, "variables": _sign_up()})
        ).json()
        assert answer.get("errors") is None, answer
        run = answer["data"]["signUp"]
        assert (run["type"], run["status"]) == ("user_registration", "RUNNING"), run
        assert dict(counter.calls) == {"start": 1}, counter.calls  # nothing read back

        # The token is the run's (its chain's first run id, as a describe tells it).
        described = await state.temporal.get_workflow_handle(run["id"]).describe()
        assert run["accessToken"] == state.run_access.token(await identify_run(described))
        opened = (
            await client.post(
                "/graphql",
                json={"query": RUN, "variables": {"id": run["id"], "t": run["accessToken"]}},
            )
        ).json()
        assert opened.get("errors") is None, opened
        assert opened["data"]["workflowRun"]["status"] == "RUNNING"

        # Asked for, the progress is read (its run's query, once).
        counter.calls.clear()
        answer = (
            await client.post(
                "/graphql", json={"query": SIGN_UP_WITH_PROGRESS, "variables": _sign_up()}
            )
        ).json()
        assert answer.get("errors") is None, answer
        with_progress = answer["data"]["signUp"]
        assert with_progress["progress"] is not None and with_progress["progress"]["total"] >= 1
        assert dict(counter.calls) == {"start": 1, "query": 1}, counter.calls
        for workflow_id in (run["id"], with_progress["id"]):
            await state.temporal.get_workflow_handle(workflow_id).terminate("test over")
