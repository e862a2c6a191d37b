"""Run management through GraphQL on the real Temporal dev server, Redis and PostgreSQL (the
gateway, auth and workflow apps in-process): a tenant admin lists their tenant's runs, follows
one, cancels one and retries a failed one; an operator finds a stuck run by filter and reads its
pending activity's last error, its stack trace and its history (which replays)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHistory
from temporalio.worker import Replayer

from tests.workflow.graphql.runs_graphql import (
    BATCH,
    CANCEL,
    HISTORY,
    INSIGHTS,
    RESET,
    RETRY,
    RUN,
    RUNS,
    STACK_TRACE,
    RunsGraphql,
    code_of,
)
from tests.workflow.runs.probe_workflows import PROBE, Probe, ProbeChild
from tests.workflow.runs.runs_api import MANAGE, Caller, eventually


def team() -> tuple[Caller, Caller]:
    """A tenant's admin (workflows.manage) and a plain member of it."""
    tenant = uuid.uuid4()
    return Caller(uuid.uuid4(), tenant, MANAGE), Caller(uuid.uuid4(), tenant, ())


async def test_a_tenant_admin_lists_follows_cancels_and_retries(graphql: RunsGraphql) -> None:
    admin, member = team()
    api = graphql.api
    # Started by a member: the admin sees them through the workflow service, not as the owner.
    waiting = [await api.start(member, "wait", label=f"w{i}") for i in range(3)]
    failed = await api.start(member, "fail", label="try again")
    with pytest.raises(WorkflowFailureError):
        await failed.result()
    ids = {h.id for h in [*waiting, failed]}

    async def all_listed() -> list[dict[str, Any]]:
        runs = await graphql.listed(admin, type=PROBE)
        assert ids <= {r["workflowId"] for r in runs}, runs
        return runs

    runs = await eventually(all_listed)
    assert {r["tenantId"] for r in runs} == {str(admin.tenant_id)}
    # Page by page, two at a time: every run once.
    seen: list[str] = []
    after = None
    for _ in range(5):
        page = (
            await graphql.data(admin, RUNS, {"filter": {"type": PROBE}, "first": 2, "after": after})
        )["workflowRuns"]
        seen += [e["node"]["workflowId"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert sorted(seen) == sorted(ids)
    failed_only = await graphql.listed(admin, type=PROBE, status="FAILED")
    assert [r["workflowId"] for r in failed_only] == [failed.id]

    # Follow one: its state, progress and details, payloads shown to a manager.
    run = (await graphql.data(admin, RUN, {"id": waiting[0].id}))["workflowRun"]
    assert run["status"] == "RUNNING" and run["type"] == PROBE
    assert run["progress"] == {
        "step": 1,
        "total": 2,
        "label": "probing",
        "percent": 50,
        "state": "running",
    }
    details = run["details"]
    assert details["payloadsVisible"] is True
    assert details["input"] == [{"mode": "wait", "label": "w0"}]
    assert details["historyLength"] > 0 and details["userId"] == str(member.user_id)

    # Cancel one; cancelling it again is a conflict of the run's state.
    cancelled = (await graphql.data(admin, CANCEL, {"id": waiting[0].id, "reason": "not needed"}))[
        "cancelWorkflowRun"
    ]
    assert cancelled["action"] == "CANCEL" and cancelled["workflowId"] == waiting[0].id

    async def canceled() -> None:
        state = (await graphql.data(admin, RUN, {"id": waiting[0].id}))["workflowRun"]
        assert state["status"] == "CANCELED", state

    await eventually(canceled)
    again = await graphql.ask(admin, CANCEL, {"id": waiting[0].id})
    assert code_of(again) == "RUN_STATE_CONFLICT", again

    # Retry the failed one: a new run with the same input, linked to the old one.
    retried = (await graphql.data(admin, RETRY, {"id": failed.id, "reason": "transient"}))[
        "retryWorkflowRun"
    ]
    assert retried["action"] == "RETRY" and retried["newWorkflowId"] not in (None, failed.id)
    new = (await graphql.data(admin, RUN, {"id": retried["newWorkflowId"]}))["workflowRun"]
    assert new["details"]["retryOf"] == f"{failed.id}/{failed.result_run_id}"
    assert new["details"]["input"] == [{"mode": "fail", "label": "try again"}]
    assert code_of(await graphql.ask(admin, RETRY, {"id": waiting[1].id})) == "RUN_STATE_CONFLICT"

    # Reset a waiting one: a new run of the same id.
    reset = (await graphql.data(admin, RESET, {"id": waiting[1].id}))["resetWorkflowRun"]
    assert reset["newRunId"] not in (None, reset["runId"])

    # A batch cancels what is still running of the tenant's probes.
    batch = (
        await graphql.data(
            admin,
            BATCH,
            {"input": {"action": "CANCEL", "reason": "clean up", "filter": {"type": PROBE}}},
        )
    )["batchWorkflowOperation"]
    assert batch["action"] == "CANCEL"
    assert {waiting[1].id, waiting[2].id} <= {i["workflowId"] for i in batch["items"] if i["ok"]}

    # Insights of the tenant's runs: the probe type with a failure reason.
    async def with_failure() -> dict[str, Any]:
        types = (await graphql.data(admin, INSIGHTS, {"window": 3600}))["workflowInsights"]["types"]
        probe = next(t for t in types if t["type"] == PROBE)
        assert {"reason": "ProbeFailed", "count": 2} in probe["topFailures"], probe
        return probe

    probe = await eventually(with_failure)
    counts = {c["status"]: c["count"] for c in probe["byStatus"]}
    assert counts.get("FAILED") == 2 and probe["total"] >= 5


async def test_an_operator_finds_a_stuck_run_and_debugs_it(graphql: RunsGraphql) -> None:
    _, member = team()
    api = graphql.api
    operator = api.operator_caller()
    stuck = await api.start(member, "flaky", label="disk full")
    done = await api.start(member, "complete", label="replay me")
    await done.result()

    async def retried_a_few_times() -> dict[str, Any]:
        runs = await graphql.listed(
            operator, type=PROBE, status="RUNNING", tenantId=str(member.tenant_id)
        )
        assert [r["workflowId"] for r in runs] == [stuck.id], runs
        run = (await graphql.data(operator, RUN, {"id": stuck.id}))["workflowRun"]
        pending = run["details"]["pendingActivities"]
        # Between two attempts (not while one runs): the next retry is known.
        assert pending and pending[0]["attempt"] >= 3 and pending[0]["nextAttemptTime"], run
        return run

    run = await eventually(retried_a_few_times)
    activity = run["details"]["pendingActivities"][0]
    assert activity["type"] == "test.runs.flaky"
    assert "flaky step failed for disk full" in activity["lastFailure"]
    trace = (await graphql.data(operator, STACK_TRACE, {"id": stuck.id}))["workflowRun"]
    assert "test.runs.flaky" in trace["details"]["stackTrace"]
    # A closed run has no stack trace; its history (opt-in) replays on the workflow's code.
    closed = await graphql.ask(operator, STACK_TRACE, {"id": done.id})
    assert code_of(closed) == "RUN_STATE_CONFLICT", closed
    history_json = (await graphql.data(operator, HISTORY, {"id": done.id}))["workflowRun"]
    history = WorkflowHistory.from_json(done.id, history_json["details"]["history"])
    replayer = Replayer(
        workflows=[Probe, ProbeChild], data_converter=api.resources.temporal.data_converter
    )
    assert (await replayer.replay_workflow(history)).replay_failure is None
    assert (await graphql.data(operator, CANCEL, {"id": stuck.id}))["cancelWorkflowRun"]
