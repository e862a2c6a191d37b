"""Who sees what through GraphQL: the cross-tenant matrix over every run management operation
(an admin of tenant B gets nothing of tenant A's runs, the same answers as for runs that do not
exist, and nothing of A's changes), and a plain user sees only the runs they started."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError

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
from tests.workflow.runs.probe_workflows import PROBE
from tests.workflow.runs.runs_api import MANAGE, Caller, eventually

Ask = Callable[[Caller, str], Awaitable[dict[str, Any]]]


def _by_id(query: str) -> Callable[[RunsGraphql], Ask]:
    return lambda g: lambda caller, run_id: g.ask(caller, query, {"id": run_id})


#: Every operation that names one run, sent by ``caller`` for ``run_id``.
ON_ONE_RUN: dict[str, Callable[[RunsGraphql], Ask]] = {
    "workflowRun": _by_id(RUN),
    "workflowRun.details.stackTrace": _by_id(STACK_TRACE),
    "workflowRun.details.history": _by_id(HISTORY),
    "cancelWorkflowRun": _by_id(CANCEL),
    "retryWorkflowRun": _by_id(RETRY),
    "resetWorkflowRun": _by_id(RESET),
}


@pytest.mark.parametrize("operation", sorted(ON_ONE_RUN))
async def test_an_admin_of_b_gets_the_answer_of_a_missing_run_for_a_run_of_a(
    graphql: RunsGraphql, operation: str
) -> None:
    api = graphql.api
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    admin_a = Caller(uuid.uuid4(), tenant_a, MANAGE)
    admin_b = Caller(uuid.uuid4(), tenant_b, MANAGE)
    mode = "fail" if operation == "retryWorkflowRun" else "wait"
    run = await api.start(admin_a, mode, label="tenant A's")
    if mode == "fail":
        with pytest.raises(WorkflowFailureError):
            await run.result()
    ask = ON_ONE_RUN[operation](graphql)

    missing_id = f"probe-missing-{uuid.uuid4().hex[:10]}"
    foreign = await ask(admin_b, run.id)
    missing = await ask(admin_b, missing_id)
    assert code_of(foreign) == code_of(missing) == "NOT_FOUND", (foreign, missing)
    assert foreign["errors"][0]["message"].replace(run.id, "X") == missing["errors"][0][
        "message"
    ].replace(missing_id, "X")
    # Nothing of A's run changed: still running (or failed), on its first run.
    description = await run.describe()
    assert description.status is not None
    assert description.status.name == ("FAILED" if mode == "fail" else "RUNNING")
    assert description.run_id == run.result_run_id
    # A's own admin reaches it.
    own = await ask(admin_a, run.id)
    assert code_of(own) in (None, "RUN_STATE_CONFLICT"), own
    if mode == "wait":
        await run.cancel()


async def test_lists_batches_and_insights_of_b_hold_nothing_of_a(graphql: RunsGraphql) -> None:
    api = graphql.api
    admin_a = Caller(uuid.uuid4(), uuid.uuid4(), MANAGE)
    admin_b = Caller(uuid.uuid4(), uuid.uuid4(), MANAGE)
    waiting = await api.start(admin_a, "wait", label="A")

    async def listed_for_a() -> None:
        assert waiting.id in {r["workflowId"] for r in await graphql.listed(admin_a, type=PROBE)}

    await eventually(listed_for_a)
    assert await graphql.listed(admin_b, type=PROBE) == []
    assert await graphql.listed(admin_b, tenantId=str(admin_a.tenant_id)) == []
    assert await graphql.listed(admin_b, userId=str(admin_a.user_id)) == []
    batch = await graphql.data(
        admin_b,
        BATCH,
        {
            "input": {
                "action": "CANCEL",
                "reason": "attack",
                "filter": {"tenantId": str(admin_a.tenant_id)},
            }
        },
    )
    assert batch["batchWorkflowOperation"]["matched"] == 0
    types = (await graphql.data(admin_b, INSIGHTS, {"window": 3600}))["workflowInsights"]["types"]
    assert types == []
    assert (await waiting.describe()).status.name == "RUNNING"  # type: ignore[union-attr]
    await waiting.cancel()


async def test_a_plain_user_sees_only_the_runs_they_started(graphql: RunsGraphql) -> None:
    api = graphql.api
    tenant = uuid.uuid4()
    me, colleague = Caller(uuid.uuid4(), tenant, ()), Caller(uuid.uuid4(), tenant, ())
    mine = await api.start(me, "wait", label="mine")
    theirs = await api.start(colleague, "wait", label="theirs")

    async def only_mine() -> None:
        runs = await graphql.listed(me, type=PROBE)
        assert [r["workflowId"] for r in runs] == [mine.id], runs

    await eventually(only_mine)
    assert (await graphql.data(me, RUN, {"id": mine.id}))["workflowRun"]["status"] == "RUNNING"
    assert code_of(await graphql.ask(me, RUN, {"id": theirs.id})) == "NOT_FOUND"
    # Seen, not managed: acting on one's own run needs workflows.manage.
    assert code_of(await graphql.ask(me, CANCEL, {"id": mine.id})) == "FORBIDDEN"
    assert code_of(await graphql.ask(me, CANCEL, {"id": theirs.id})) == "NOT_FOUND"
    # Signed out: nothing at all.
    assert code_of(await graphql.ask(None, RUNS, {"first": 5})) == "UNAUTHENTICATED"
    assert code_of(await graphql.ask(None, RUN, {"id": theirs.id})) == "NOT_FOUND"
    await mine.cancel()
    await theirs.cancel()
