"""The all-tenants scope of ``data_migration``: the nightly Schedule ``data-migration-nightly-all``
checks every tenant, the tenant ids read from their owner (``tenant.reconcile_list_tenants``,
platform-scoped and audited in the tenant audit stream), each tenant by a child run whose
report adds up into the parent's; a run acting for a user cannot list the tenants. With
``ADX_RECORD_HISTORIES=1`` the Schedule's run is ``tests/histories/data_migration.all_tenants.json``.

Other tests' tenants share the session's database, so the assertions look at this test's
tenants (their child runs) and at lower bounds of the sums."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError

from services.common.data_migration import ensure_nightly_schedule, nightly_schedule_id
from services.common.security_context import SecurityContext, acting_as
from services.tenant.switching.activities import audit_stream_key
from tests.auth.mail_flows import record_history
from tests.auth.users import AuthUser
from tests.workflow.reconciliation.members import (
    add_member,
    provisioned,
    put_claims,
    triggered_run,
)
from workflows.reconciliation.data_migration import (
    DataMigrationInput,
    DataMigrationResult,
    DataMigrationWorkflow,
)

pytestmark = pytest.mark.timeout(900)


async def test_the_nightly_schedule_checks_every_tenant(
    temporal: Client, reconciliation_stack: Any, user: AuthUser
) -> None:
    schedule_id = nightly_schedule_id(None)
    try:  # a Schedule left by an interrupted run would start on another test's queue
        await temporal.get_schedule_handle(schedule_id).delete()
    except RPCError:
        pass
    async with reconciliation_stack() as stack:
        in_step = await provisioned(temporal, stack, user.id)
        drifting = await provisioned(temporal, stack, user.id)
        await add_member(stack, in_step)
        member = await add_member(stack, drifting)
        await put_claims(stack, drifting, member, "admin")  # auth says admin, the owner member
        assert await ensure_nightly_schedule(temporal, None, task_queue=stack.workflow)
        try:
            run = await triggered_run(temporal, schedule_id)
            result = await asyncio.wait_for(run.result(), 800)
            children = {
                t: await temporal.get_workflow_handle(
                    await _child_of(run, t), result_type=DataMigrationResult
                ).result()
                for t in (str(in_step), str(drifting))
            }
            await record_history(run, "data_migration.all_tenants")
        finally:
            await temporal.get_schedule_handle(schedule_id).delete()
        audit = await stack.tenants.redis.xrange(audit_stream_key(stack.tenants.redis_keys))
    assert result.tenant_id == "" and result.mode == "dry_run"
    assert result.fleet is not None and result.fleet.tenants_checked >= 2, result.fleet
    assert result.fleet.drifting >= 1 and result.fleet.failed == 0, result.fleet
    assert children[str(in_step)].drift == 0
    claims = {r.copy: r for r in children[str(drifting)].reports}["claims"]
    assert (claims.stale, claims.sample) == (1, [str(member)])
    summed = {r.copy: r for r in result.reports}["claims"]
    assert summed.stale >= 1 and summed.checked >= 4, summed
    entries = [{_text(k): _text(v) for k, v in fields.items()} for _, fields in audit]
    listed = [e for e in entries if e.get("action") == "platform_tenants_listed"]
    mine = [e for e in listed if e["workflow_id"] == run.id]
    assert mine and mine[0]["origin"] == f"schedule:{schedule_id}", listed[-3:]


async def _child_of(run: WorkflowHandle[Any, Any], tenant_id: str) -> str:
    """The id of the child run that checked ``tenant_id`` (from the parent's history)."""
    history = await run.fetch_history()
    for event in history.events:
        if event.HasField("start_child_workflow_execution_initiated_event_attributes"):
            child = event.start_child_workflow_execution_initiated_event_attributes.workflow_id
            if child.startswith(f"data-migration-{tenant_id}-all-"):
                return child
    raise AssertionError(f"no child run checked {tenant_id}")


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def test_a_run_acting_for_a_user_cannot_list_the_tenants(
    temporal: Client, reconciliation_stack: Any, user: AuthUser
) -> None:
    async with reconciliation_stack() as stack:
        with acting_as(SecurityContext.for_user(str(user.id))):
            handle = await temporal.start_workflow(
                DataMigrationWorkflow.run,
                DataMigrationInput(tenant_id="", all_tenants=True, requested_by="test"),
                id=f"data-migration-all-{uuid.uuid4().hex[:8]}",
                task_queue=stack.workflow,
            )
        with pytest.raises(WorkflowFailureError) as failed:
            await asyncio.wait_for(handle.result(), 120)
    causes: list[str] = []
    error: BaseException | None = failed.value
    while error is not None:
        causes.append(str(error))
        error = error.__cause__
    assert any("only the platform runs data reconciliation" in c for c in causes), causes
