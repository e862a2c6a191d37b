"""Run management (``/runs`` of the workflow service) on the real Temporal dev server, with real
probe runs started with the ADX search attributes: filters and pages, describe, stack trace,
history, the actions, scope across tenants, and hostile input."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowFailureError, WorkflowHistory
from temporalio.worker import Replayer

from services.common import search_attributes
from services.workflow.runs.audit import recent
from tests.workflow.runs.probe_workflows import Probe, ProbeChild
from tests.workflow.runs.runs_api import MANAGE, READ, Caller, RunsApi, eventually


def tenant_callers() -> tuple[Caller, Caller, Caller]:
    """A tenant's admin (workflows.manage), a member (workflows.read) and a plain user."""
    tenant = uuid.uuid4()
    return (
        Caller(uuid.uuid4(), tenant, MANAGE),
        Caller(uuid.uuid4(), tenant, READ),
        Caller(uuid.uuid4(), tenant, ()),
    )


async def listed(client: httpx.AsyncClient, **params: Any) -> list[str]:
    answer = await client.get("/runs", params=params)
    assert answer.status_code == 200, answer.text
    return [r["workflow_id"] for r in answer.json()["runs"]]


async def wait_listed(client: httpx.AsyncClient, expected: set[str], **params: Any) -> None:
    async def check() -> None:
        assert expected <= set(await listed(client, first=100, **params))

    await eventually(check)


async def test_runs_carry_search_attributes_and_filter(runs_api: RunsApi) -> None:
    admin, _, user = tenant_callers()
    done = await runs_api.start(user, "complete")
    failed = await runs_api.start(admin, "fail")
    await done.result()
    with pytest.raises(WorkflowFailureError):
        await failed.result()
    described = await done.describe()
    values = search_attributes.adx_values(described.typed_search_attributes)
    assert values == {
        "tenant_id": str(user.tenant_id),
        "user_id": str(user.user_id),
        "operation": "test_runs_probe",
    }

    async with runs_api.client(admin) as client:
        await wait_listed(client, {done.id, failed.id})
        assert set(await listed(client, status="FAILED")) == {failed.id}
        assert set(await listed(client, status="COMPLETED", type="test_runs_probe")) == {done.id}
        assert set(await listed(client, user_id=str(user.user_id))) == {done.id}
        assert await listed(client, type="other_type") == []
        assert await listed(client, until="2000-01-01T00:00:00Z") == []
        assert set(await listed(client, since="2000-01-01T00:00:00Z")) == {done.id, failed.id}
        counted = (await client.get("/runs/count")).json()
        assert counted["total"] == 2
        assert {c["status"]: c["count"] for c in counted["by_status"]} == {
            "COMPLETED": 1,
            "FAILED": 1,
        }
        # Pages of one, cursor to cursor.
        first = (await client.get("/runs", params={"first": 1})).json()
        assert len(first["runs"]) == 1 and first["next_cursor"]
        second = (
            await client.get("/runs", params={"first": 1, "after": first["next_cursor"]})
        ).json()
        assert {first["runs"][0]["workflow_id"], second["runs"][0]["workflow_id"]} == {
            done.id,
            failed.id,
        }


async def test_scope_across_tenants_on_every_route(runs_api: RunsApi) -> None:
    admin_a, member_a, user_a = tenant_callers()
    admin_b, _, _ = tenant_callers()
    own = await runs_api.start(user_a, "wait")
    other = await runs_api.start(admin_a, "wait")
    b_run = await runs_api.start(admin_b, "wait")
    routes = [
        ("GET", "/runs/{}", None),
        ("GET", "/runs/{}/stack-trace", None),
        ("GET", "/runs/{}/history", None),
        ("POST", "/runs/{}/cancel", {"reason": "x"}),
        ("POST", "/runs/{}/terminate", {"reason": "x"}),
        ("POST", "/runs/{}/retry", {"reason": "x"}),
        ("POST", "/runs/{}/reset", {"reason": "x"}),
    ]
    try:
        async with runs_api.client(admin_a) as client:
            await wait_listed(client, {own.id, other.id})
            assert b_run.id not in await listed(client, first=100)
            assert b_run.id not in await listed(client, tenant_id=str(admin_b.tenant_id))
            for method, path, body in routes:
                answer = await client.request(method, path.format(b_run.id), json=body)
                assert answer.status_code == 404, (path, answer.text)
                missing = await client.request(method, path.format("no-such-run"), json=body)
                assert missing.status_code == 404
                assert answer.json()["title"] == missing.json()["title"]
        # A plain user sees their own run only, and acts on none.
        async with runs_api.client(user_a) as client:
            await wait_listed(client, {own.id})
            assert set(await listed(client, first=100)) == {own.id}
            assert (await client.get(f"/runs/{other.id}")).status_code == 404
            mine = (await client.get(f"/runs/{own.id}")).json()
            assert mine["payloads_visible"] is False and mine["input"] is None
            assert (await client.post(f"/runs/{own.id}/cancel")).status_code == 403
        # A member with workflows.read sees the tenant's runs, acts on none.
        async with runs_api.client(member_a) as client:
            await wait_listed(client, {own.id, other.id})
            assert (await client.post(f"/runs/{other.id}/cancel")).status_code == 403
            assert (await client.get(f"/runs/{other.id}/history")).status_code == 403
        # The tenant admin may not terminate; an operator sees and terminates everything.
        async with runs_api.client(admin_a) as client:
            answer = await client.post(f"/runs/{other.id}/terminate", json={"reason": "x"})
            assert answer.status_code == 403
        async with runs_api.client(runs_api.operator_caller()) as client:
            await wait_listed(client, {own.id, other.id, b_run.id}, type="test_runs_probe")
            assert (await client.get(f"/runs/{b_run.id}")).json()["payloads_visible"] is True
            missing_reason = await client.post(f"/runs/{b_run.id}/terminate", json={})
            assert missing_reason.status_code == 422
            for handle in (own, other, b_run):
                answer = await client.post(
                    f"/runs/{handle.id}/terminate", json={"reason": "test over"}
                )
                assert answer.status_code == 200, answer.text
    finally:
        for handle in (own, other, b_run):
            try:
                await handle.terminate()
            except Exception:
                pass
    entries = await recent(runs_api.resources, 20)
    terminated = [e for e in entries if e["action"] == "terminate" and e["workflow_id"] == b_run.id]
    assert terminated and terminated[0]["actor_user_id"] == str(runs_api.operator)
    assert terminated[0]["reason"] == "test over"


async def test_describe_pending_activity_stack_trace_and_children(runs_api: RunsApi) -> None:
    admin, _, _ = tenant_callers()
    flaky = await runs_api.start(admin, "flaky", label="label-1")
    parent = await runs_api.start(admin, "parent")
    async with runs_api.client(admin) as client:

        async def retried() -> dict[str, Any]:
            details = (await client.get(f"/runs/{flaky.id}")).json()
            pending = details["pending_activities"]
            assert pending and pending[0]["attempt"] >= 3, details
            return details

        details = await eventually(retried)
        activity = details["pending_activities"][0]
        assert activity["type"] == "test.runs.flaky"
        assert "flaky step failed for label-1" in activity["last_failure"]
        assert activity["next_attempt_time"] is not None
        assert details["status"] == "RUNNING" and details["history_length"] > 0
        assert details["progress"] == {
            "step": 1,
            "total": 2,
            "label": "probing",
            "percent": 50,
            "state": "running",
        }
        assert details["payloads_visible"] is True
        assert details["input"] == [{"mode": "flaky", "label": "label-1"}]
        trace = (await client.get(f"/runs/{flaky.id}/stack-trace")).json()
        assert "test.runs.flaky" in trace["stack_trace"]

        async def with_child() -> dict[str, Any]:
            described = (await client.get(f"/runs/{parent.id}")).json()
            assert described["children"], described
            return described

        children = (await eventually(with_child))["children"]
        assert children[0]["workflow_id"] == f"{parent.id}-child"
        child = (await client.get(f"/runs/{parent.id}-child")).json()
        assert child["parent_workflow_id"] == parent.id
        assert child["tenant_id"] == str(admin.tenant_id)  # inherited from the parent
        cancelled = await client.post(f"/runs/{flaky.id}/cancel", json={"reason": "enough"})
        assert cancelled.status_code == 200, cancelled.text
        assert (await client.post(f"/runs/{parent.id}/cancel")).status_code == 200
        again = await client.post(f"/runs/{flaky.id}/cancel")
        assert again.status_code in (200, 409)


async def test_history_replays(runs_api: RunsApi) -> None:
    admin, _, _ = tenant_callers()
    handle = await runs_api.start(admin, "complete", label="replay me")
    await handle.result()
    async with runs_api.client(admin) as client:
        answer = await client.get(f"/runs/{handle.id}/history")
    assert answer.status_code == 200
    history = WorkflowHistory.from_json(handle.id, answer.json())
    replayer = Replayer(
        workflows=[Probe, ProbeChild], data_converter=runs_api.resources.temporal.data_converter
    )
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None


async def test_retry_and_reset(runs_api: RunsApi) -> None:
    admin, _, _ = tenant_callers()
    failed = await runs_api.start(admin, "fail", label="again")
    with pytest.raises(WorkflowFailureError):
        await failed.result()
    async with runs_api.client(admin) as client:
        answer = await client.post(f"/runs/{failed.id}/retry", json={"reason": "transient"})
        assert answer.status_code == 200, answer.text
        retried = answer.json()
        assert retried["new_workflow_id"] != failed.id
        details = (await client.get(f"/runs/{retried['new_workflow_id']}")).json()
        assert details["retry_of"] == f"{failed.id}/{failed.result_run_id}"
        assert details["tenant_id"] == str(admin.tenant_id)
        assert details["user_id"] == str(admin.user_id)

        async def failed_again() -> dict[str, Any]:
            described = (await client.get(f"/runs/{retried['new_workflow_id']}")).json()
            assert described["status"] == "FAILED"
            return described

        assert (await eventually(failed_again))["input"] == [{"mode": "fail", "label": "again"}]
        # Only a closed run is retried.
        waiting = await runs_api.start(admin, "wait")
        assert (await client.post(f"/runs/{waiting.id}/retry")).status_code == 409

        async def first_task_completed() -> None:
            # A reset needs a completed workflow task to go back to (on a loaded machine the
            # first one may not have run yet): started, scheduled, started, completed = 4.
            described = (await client.get(f"/runs/{waiting.id}")).json()
            assert described["history_length"] >= 4

        await eventually(first_task_completed)
        reset = await client.post(f"/runs/{waiting.id}/reset", json={"reason": "unstick"})
        assert reset.status_code == 200, reset.text
        new_run = reset.json()["new_run_id"]
        assert new_run and new_run != reset.json()["run_id"]
        details = (await client.get(f"/runs/{waiting.id}")).json()
        assert details["run_id"] == new_run and details["status"] == "RUNNING"
        assert details["tenant_id"] == str(admin.tenant_id)
        await client.post(f"/runs/{waiting.id}/cancel")
    actions = {e["action"] for e in await recent(runs_api.resources, 50)}
    assert {"retry", "reset"} <= actions


async def test_batch_cancel_and_retry(runs_api: RunsApi) -> None:
    admin, member, _ = tenant_callers()
    waiting = [await runs_api.start(admin, "wait") for _ in range(3)]
    failing = [await runs_api.start(admin, "fail") for _ in range(2)]
    for handle in failing:
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    body = {"action": "cancel", "filter": {"type": "test_runs_probe"}, "reason": "cleanup"}
    async with runs_api.client(member) as client:
        assert (await client.post("/runs/batch", json=body)).status_code == 403
    async with runs_api.client(admin) as client:
        await wait_listed(client, {h.id for h in waiting + failing})
        answer = await client.post("/runs/batch", json={**body, "limit": 2})
        assert answer.status_code == 200, answer.text
        assert answer.json()["succeeded"] == 2
        answer = await client.post("/runs/batch", json=body)
        assert answer.json()["succeeded"] >= 1
        retried = await client.post(
            "/runs/batch", json={"action": "retry", "reason": "transient", "limit": 10}
        )
        assert retried.status_code == 200, retried.text
        items = retried.json()["items"]
        assert {i["workflow_id"] for i in items} == {h.id for h in failing}
        assert all(i["ok"] and i["new_workflow_id"] for i in items)
    for handle in waiting:

        async def cancelled(h: Any = handle) -> None:
            assert (await h.describe()).status.name == "CANCELED"

        await eventually(cancelled)


async def test_insights(runs_api: RunsApi) -> None:
    admin, _, _ = tenant_callers()
    for mode in ("complete", "complete", "fail"):
        handle = await runs_api.start(admin, mode)
        try:
            await handle.result()
        except WorkflowFailureError:
            pass
    async with runs_api.client(admin) as client:

        async def counted() -> dict[str, Any]:
            answer = (await client.get("/runs/insights", params={"window": 600})).json()
            probe = [t for t in answer["types"] if t["type"] == "test_runs_probe"]
            assert probe and probe[0]["total"] == 3, answer
            # The failure reasons come from the listed runs' statuses, which visibility may
            # show a moment after the counts: wait for all of it.
            assert probe[0]["top_failures"] == [{"reason": "ProbeFailed", "count": 1}], answer
            return probe[0]

        probe = await eventually(counted)
    assert {c["status"]: c["count"] for c in probe["by_status"]} == {"COMPLETED": 2, "FAILED": 1}
    assert probe["duration_p50_seconds"] is not None
    assert probe["duration_p95_seconds"] >= probe["duration_p50_seconds"]
    async with runs_api.client(runs_api.operator_caller()) as client:
        assert (await client.get("/runs/insights")).status_code == 200
        metrics = (await client.get("/metrics")).text
    assert 'adx_workflow_runs{status="FAILED",type="test_runs_probe"}' in metrics
    assert "adx_workflow_run_duration_seconds" in metrics


@pytest.mark.parametrize(
    "params",
    [
        {"type": "x' OR 1=1"},
        {"type": 'x" OR WorkflowType != "'},
        {"type": "a" * 5000},
        {"status": "RUNNING' OR 'a'='a"},
        {"tenant_id": "' OR 1=1 --"},
        {"user_id": "x" * 100},
        {"since": "yesterday"},
        {"first": 0},
        {"first": 100000},
        {"after": "!!!not base64!!!"},
        {"after": "AAAA"},
        {"after": "sealed:v1:k:AAAA"},
        {"after": "x" * 10000},
        {"since": "2030-01-01T00:00:00Z", "until": "2020-01-01T00:00:00Z"},
    ],
)
async def test_hostile_filters_are_refused(runs_api: RunsApi, params: dict[str, Any]) -> None:
    admin, _, _ = tenant_callers()
    async with runs_api.client(admin) as client:
        answer = await client.get("/runs", params=params)
        assert 400 <= answer.status_code < 500, answer.text
        counted = await client.get("/runs/count", params={k: v for k, v in params.items()})
        assert counted.status_code < 500


async def test_hostile_ids_and_bodies(runs_api: RunsApi) -> None:
    admin, _, _ = tenant_callers()
    async with runs_api.client(admin) as client:
        for bad in ("x'%20OR%201=1", "a" * 300, "%00"):
            answer = await client.get(f"/runs/{bad}")
            assert answer.status_code in (404, 422), answer.text
        answer = await client.post("/runs/batch", json={"action": "delete", "reason": "x"})
        assert answer.status_code == 422
        answer = await client.post(
            "/runs/batch",
            json={"action": "cancel", "reason": "x", "filter": {"type": "x' OR 1=1"}},
        )
        assert answer.status_code == 422
        answer = await client.post(
            "/runs/batch", json={"action": "cancel", "reason": "x", "limit": 10**6}
        )
        assert answer.status_code == 422
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=runs_api.app), base_url="http://workflow"
    ) as anonymous:
        assert (await anonymous.get("/runs")).status_code == 401
    await asyncio.sleep(0)
