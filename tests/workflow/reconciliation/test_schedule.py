"""The nightly dry run is a Temporal Schedule per tenant, created idempotently (the second call
keeps the first), starting ``data_migration`` in dry-run mode on the workflow queue."""

from __future__ import annotations

import uuid

from temporalio.client import Client, ScheduleActionStartWorkflow

from services.common.data_migration import (
    NIGHTLY,
    ensure_nightly_schedule,
    nightly_schedule_id,
)
from workflows.reconciliation.data_migration import DataMigrationInput


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
