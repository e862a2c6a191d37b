"""The nightly dry run is a Temporal Schedule per tenant, created idempotently (the second call
keeps the first), starting ``data_migration`` in dry-run mode on the workflow queue; its runs
act as the platform, and a Schedule the platform did not make acts for nobody."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
    WorkflowFailureError,
)

from services.common.data_migration import (
    NIGHTLY,
    ensure_nightly_schedule,
    nightly_schedule_id,
)
from tests.auth.users import AuthUser
from tests.workflow.reconciliation.members import provisioned, triggered_run
from workflows.reconciliation.data_migration import (
    DataMigrationInput,
    DataMigrationWorkflow,
)


async def test_the_nightly_schedule_is_created_once(temporal: Client) -> None:
    tenant_id = str(uuid.uuid4())
    queue = f"rc-schedule-{uuid.uuid4().hex[:8]}"

    first = await ensure_nightly_schedule(temporal, tenant_id, task_queue=queue)
    second = await ensure_nightly_schedule(temporal, tenant_id, task_queue=queue)

    handle = temporal.get_schedule_handle(nightly_schedule_id(tenant_id))
    try:
        described = await handle.describe()
        assert (first, second) == (True, False)
        # The server keeps the cron expression (NIGHTLY) as a calendar: 03:17 every day.
        [calendar] = described.schedule.spec.calendars
        assert (calendar.hour[0].start, calendar.minute[0].start) == (3, 17), NIGHTLY
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.task_queue) == ("data_migration", queue)
        [arg] = await temporal.data_converter.decode(action.args, [DataMigrationInput])
        assert (arg.tenant_id, arg.mode, arg.requested_by) == (tenant_id, "dry_run", "schedule")
    finally:
        await handle.delete()


async def test_the_nightly_schedule_s_run_acts_as_the_platform(
    temporal: Client, reconciliation_stack: Any, user: AuthUser
) -> None:
    """A Schedule's start is the server's and carries no sealed security context: the runs of
    the platform's own nightly Schedule act as the platform (services/common/
    security_interceptor.py, PLATFORM_SCHEDULES) and finish their dry run."""
    async with reconciliation_stack() as stack:
        tenant_id = str(await provisioned(temporal, stack, user.id))
        await ensure_nightly_schedule(temporal, tenant_id, task_queue=stack.workflow)
        try:
            run = await triggered_run(temporal, nightly_schedule_id(tenant_id))
            result = await asyncio.wait_for(run.result(), 120)
            assert result.mode == "dry_run" and result.tenant_id == tenant_id
            assert {report.copy for report in result.reports} >= {"claims", "directory"}
            assert result.drift == 0
        finally:
            await temporal.get_schedule_handle(nightly_schedule_id(tenant_id)).delete()


async def test_a_schedule_the_platform_did_not_make_acts_for_nobody(
    temporal: Client, reconciliation_stack: Any, user: AuthUser
) -> None:
    """Anyone with access to the Temporal namespace can create a Schedule; one under another id
    starting the same data_migration gets no platform context: its first step is refused."""
    async with reconciliation_stack() as stack:
        tenant_id = str(await provisioned(temporal, stack, user.id))
        schedule_id = f"not-the-platform-{uuid.uuid4().hex[:8]}"
        await temporal.create_schedule(
            schedule_id,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    DataMigrationWorkflow.run,
                    DataMigrationInput(tenant_id=tenant_id, requested_by="schedule"),
                    id=f"forged-{uuid.uuid4().hex[:8]}",
                    task_queue=stack.workflow,
                ),
                spec=ScheduleSpec(cron_expressions=[NIGHTLY]),
            ),
        )
        try:
            run = await triggered_run(temporal, schedule_id)
            with pytest.raises(WorkflowFailureError) as failed:
                await asyncio.wait_for(run.result(), 120)
            causes: list[str] = []
            error: BaseException | None = failed.value.cause
            while error is not None:
                causes.append(str(error))
                error = error.__cause__
            assert any("no security context" in cause for cause in causes), causes
        finally:
            await temporal.get_schedule_handle(schedule_id).delete()
