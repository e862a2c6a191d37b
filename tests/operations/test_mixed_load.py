"""The mixed-load generator (``bench/mixed_load.py``) against the session's stack: a few seconds
at a low rate send every kind of operation, each succeeds, nothing is a server error, every run
its mutations started completes in Temporal and left its tenant, and the report survives JSON;
and the mix's proportions and the classes of answers, without a stack."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from bench.load_accounts import graphql, sign_in
from bench.load_report import Failed, LoadReport, checked, count_server_errors, error_class
from bench.mixed_load import DEFAULT_MIX, LoadTarget, Mix, MixedLoad, RoundRobin, prepare_accounts
from services.common.settings import ServiceName
from tests.support import Infra, Stack

#: How long the runs may take to finish after the load stopped (a loaded machine is slow).
RUNS_SECONDS = 120


async def closed_statuses(
    temporal: Client, workflow_ids: list[str]
) -> dict[str, WorkflowExecutionStatus | None]:
    """Each run's status once none is running, or as they are after ``RUNS_SECONDS``."""
    deadline = time.monotonic() + RUNS_SECONDS
    while True:
        statuses = {
            w: (await temporal.get_workflow_handle(w).describe()).status for w in workflow_ids
        }
        running = [w for w, s in statuses.items() if s == WorkflowExecutionStatus.RUNNING]
        if not running or time.monotonic() > deadline:
            return statuses
        await asyncio.sleep(0.5)


@pytest.mark.timeout(400)
async def test_a_short_mixed_load_sends_every_kind_and_its_runs_complete(
    stack: Stack, infra: Infra, temporal: Client
) -> None:
    gateway = stack.url(ServiceName.gateway)
    accounts = await prepare_accounts(gateway, infra.env["ADX_DATABASE_URL"], 3)

    load = MixedLoad(LoadTarget(gateway, accounts), rate=4, subscribers=2)
    async with load:
        await asyncio.sleep(5)
    report = load.report()

    summary = report.table()
    assert set(report.kinds) == set(DEFAULT_MIX.weights()), summary
    for kind, figures in report.kinds.items():
        assert figures.sent >= 1 and figures.ok >= 1, (kind, summary)
        assert figures.in_flight == 0, (kind, summary)
        assert figures.latency_ms.p50 is not None, (kind, summary)
    assert report.server_errors == 0, summary
    assert report.subscriptions.runs_followed_to_end >= 1, summary
    assert report.subscriptions.events >= report.subscriptions.runs_followed_to_end, summary

    # Every run the mutations started completed, each leaving its tenant with its asker.
    runs = load.started_runs
    assert len(runs) == report.started_runs == report.kinds["workflow"].ok, summary
    assert load.attempted_runs == runs, summary  # no start went unanswered
    statuses = await closed_statuses(temporal, runs)
    assert all(s == WorkflowExecutionStatus.COMPLETED for s in statuses.values()), statuses
    slugs = set()
    async with httpx.AsyncClient(timeout=30) as client:
        for account in accounts:
            token = await sign_in(client, stack.graphql, account.email, account.password, None)
            tenants = await graphql(client, stack.graphql, "{ tenants { slug } }", token=token)
            slugs |= {t["slug"] for t in tenants["tenants"]}
    assert {f"tenant-provisioning-{slug}" for slug in slugs if slug.startswith("ml-")} == set(runs)

    assert LoadReport.from_dict(json.loads(json.dumps(report.as_dict()))) == report


def test_the_mix_is_followed_exactly_and_a_zero_weight_leaves_a_kind_out() -> None:
    picker = RoundRobin(Mix(login=1, query=6, workflow=2, subscribe=0).weights())

    picks = Counter(picker.next() for _ in range(90))

    assert picks == {"login": 10, "query": 60, "workflow": 20}
    assert Mix.parse("query=3, workflow=1") == Mix(login=0, query=3, workflow=1, subscribe=0)
    with pytest.raises(ValueError, match="unknown kind"):
        Mix.parse("signup=1")
    with pytest.raises(ValueError, match="positive weight"):
        RoundRobin(Mix(0, 0, 0, 0).weights())


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, b"Internal Server Error", "http_500"),
        (503, b"", "http_503"),
        (404, b"<html>not found</html>", "http_404"),
        (
            429,
            b'{"errors": [{"message": "slow", "extensions": {"code": "RATE_LIMITED"}}]}',
            "graphql:RATE_LIMITED",
        ),
        (
            200,
            b'{"data": null, "errors": [{"message": "Unexpected error."}]}',
            "graphql:INTERNAL_SERVER_ERROR",
        ),
        # An uncoded error is the server's fault even behind a coded one.
        (
            200,
            b'{"data": null, "errors": [{"message": "a", "extensions": {"code": "NOT_FOUND"}},'
            b' {"message": "b"}]}',
            "graphql:INTERNAL_SERVER_ERROR",
        ),
    ],
)
def test_answers_are_classed_and_server_errors_counted(
    status: int, body: bytes, expected: str
) -> None:
    with pytest.raises(Failed) as failed:
        checked(status, body)

    assert failed.value.error_class == expected
    server = expected in ("http_500", "graphql:INTERNAL_SERVER_ERROR")
    assert count_server_errors({expected: 2}, {"timeout": 1}) == (2 if server else 0)
    assert error_class(failed.value) == expected
    assert checked(200, b'{"data": {"me": {"userId": "u"}}}') == {"me": {"userId": "u"}}
