"""A tenant admin follows another user's run live: ``workflowProgress`` over
graphql-transport-ws on a served gateway (the workflow service in-process) streams a run of
their tenant to an admin with ``workflows.read`` (no access token, not its starter) until it
ends; a member of the tenant without it, and an admin of another tenant, get ``NOT_FOUND``, the
answer for a run that does not exist."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.context import GatewayState
from services.common.resources import Resources
from tests.gateway.subscriptions.served import Served, served_gateway
from tests.gateway.subscriptions.test_subscriptions import acked, next_of, subscribe
from tests.workflow.runs.runs_api import READ, Caller, RunsApi

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
async def gateway(
    gateway_resources: Resources, auth_resources: Resources, runs_api: RunsApi
) -> AsyncIterator[Served]:
    await runs_api.publish_keys()
    # Generous service-call limits: the workflow service describes the run while the machine
    # is loaded (a wait, not what is asserted).
    async with served_gateway(
        gateway_resources,
        auth_resources,
        service_call_timeout_seconds=60.0,
        request_deadline_seconds=120.0,
    ) as served:
        state: GatewayState = served.state
        await state.services.workflow.http.aclose()
        state.services.workflow.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=runs_api.app), base_url="http://workflow", timeout=30
        )
        yield served


async def _first(gateway: Served, api: RunsApi, caller: Caller, run_id: str) -> dict[str, Any]:
    ws = await acked(gateway, api.token(caller))
    try:
        await subscribe(ws, "s", {"id": run_id})
        return await next_of(ws, "s", timeout=30)
    finally:
        await ws.close()


def _codes(message: dict[str, Any]) -> list[str | None]:
    """The error codes of a refused subscription (an ``error`` message, or a ``next`` whose
    payload carries only errors)."""
    if message["type"] == "error":
        errors = message["payload"]
    else:
        assert message["type"] == "next" and not (message["payload"].get("data") or {}).get(
            "workflowProgress"
        ), message
        errors = message["payload"].get("errors") or []
    return [e.get("extensions", {}).get("code") for e in errors]


async def test_an_admin_with_workflows_read_follows_a_members_run(
    gateway: Served, runs_api: RunsApi
) -> None:
    tenant = uuid.uuid4()
    member = Caller(uuid.uuid4(), tenant)
    admin = Caller(uuid.uuid4(), tenant, READ)
    run = await runs_api.start(member, "wait", label="the member's")
    # The relay's progress query has a short deadline: wait until the (loaded) worker has
    # taken the run's first task, so the query answers at once.
    await asyncio.wait_for(run.query("progress"), 120)
    ws = await acked(gateway, runs_api.token(admin))
    try:
        await subscribe(ws, "s", {"id": run.id})
        first = await next_of(ws, "s", timeout=30)
        assert first["type"] == "next", first
        followed = (first["payload"].get("data") or {}).get("workflowProgress")
        assert followed and followed["status"] == "RUNNING", first
        await run.cancel()
        # The stream follows the run to its end: its last state, then complete.
        last: dict[str, Any] = first
        while True:
            message = await next_of(ws, "s", timeout=60)
            if message["type"] == "complete":
                break
            assert message["type"] == "next", message
            last = message
        assert last["payload"]["data"]["workflowProgress"]["status"] == "CANCELED", last
    finally:
        await ws.close()


async def test_a_member_without_it_and_another_tenants_admin_get_not_found(
    gateway: Served, runs_api: RunsApi
) -> None:
    tenant = uuid.uuid4()
    starter = Caller(uuid.uuid4(), tenant)
    run = await runs_api.start(starter, "wait", label="not theirs")
    await asyncio.wait_for(run.query("progress"), 120)  # as above: the first task taken
    try:
        outsiders = {
            "member without workflows.read": Caller(uuid.uuid4(), tenant),
            "admin of another tenant": Caller(uuid.uuid4(), uuid.uuid4(), READ),
        }
        missing = await _first(
            gateway, runs_api, outsiders["admin of another tenant"], f"probe-missing-{uuid.uuid4()}"
        )
        assert _codes(missing) == ["NOT_FOUND"], missing
        for who, caller in outsiders.items():
            answer = await _first(gateway, runs_api, caller, run.id)
            assert _codes(answer) == ["NOT_FOUND"], (who, answer)
        # Its starter still follows it (the session's own run).
        own = await _first(gateway, runs_api, starter, run.id)
        assert own["type"] == "next", own
    finally:
        await run.cancel()
