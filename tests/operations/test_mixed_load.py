"""The mixed-load generator (``bench/mixed_load.py``) against the session's stack: a few seconds
at a low rate send every kind of operation, each succeeds, nothing is a server error, every run
its mutations started completes in Temporal and left its tenant, and the report survives JSON."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from bench.load_accounts import graphql, sign_in
from bench.load_report import LoadReport
from bench.mixed_load import DEFAULT_MIX, LoadTarget, MixedLoad, prepare_accounts
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
