"""Starting ``data_migration`` (workflows/reconciliation/): one start for the workflow service's
route, the gateway's ``startDataMigration`` and the nightly Schedule. The run acts as the
platform (``system``): the caller was checked to be an operator before this is called; who
asked is kept in the input (``requested_by``) and in the run's search attributes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleSpec,
    WorkflowHandle,
)

from services.common.security_context import SecurityContext, acting_as
from workflows.reconciliation.data_migration import (
    DataMigrationInput,
    DataMigrationResult,
    DataMigrationWorkflow,
    data_migration_workflow_id,
)
from workflows.reconciliation.rules import (
    checked_batch_size,
    checked_copies,
    checked_mode,
    parse_id,
)

ORIGIN = "data-migration"
#: Every night at 03:17 UTC (off the hour, where other jobs pile up).
NIGHTLY = "17 3 * * *"


#: What ids and Schedule ids say for the all-tenants scope in place of a tenant id.
ALL_TENANTS = "all"


def checked_input(input: DataMigrationInput) -> DataMigrationInput:
    """``input`` with its fields checked (``ReconciliationInputError`` names a bad one); the
    all-tenants scope names no tenant."""
    return DataMigrationInput(
        tenant_id="" if input.all_tenants else str(parse_id(input.tenant_id, "tenant id")),
        all_tenants=input.all_tenants,
        mode=checked_mode(input.mode),
        copies=checked_copies(input.copies),
        batch_size=checked_batch_size(input.batch_size),
        batches_per_run=checked_batch_size(input.batches_per_run),
        requested_by=input.requested_by[:64],
    )


async def start_data_migration(
    client: Client, input: DataMigrationInput, *, task_queue: str
) -> WorkflowHandle[Any, DataMigrationResult]:
    checked = checked_input(input)
    with acting_as(SecurityContext.system(ORIGIN)):
        return await client.start_workflow(
            DataMigrationWorkflow.run,
            checked,
            id=data_migration_workflow_id(_scope(checked), uuid.uuid4().hex[:12]),
            task_queue=task_queue,
        )


#: The id of a tenant's nightly Schedule is this and the tenant id; the security interceptor
#: lets the runs such a Schedule starts act as the platform (``PLATFORM_SCHEDULES``).
NIGHTLY_SCHEDULE_PREFIX = "data-migration-nightly-"


def _scope(input: DataMigrationInput) -> str:
    return ALL_TENANTS if input.all_tenants else input.tenant_id


def nightly_schedule_id(tenant_id: str | None) -> str:
    """The Schedule of one tenant, or (None) of every tenant's."""
    return f"{NIGHTLY_SCHEDULE_PREFIX}{tenant_id or ALL_TENANTS}"


async def ensure_nightly_schedule(
    client: Client, tenant_id: str | None, *, task_queue: str
) -> bool:
    """The nightly dry run of one tenant, or (None) of every tenant, as a Temporal Schedule;
    True when this call created it (idempotent: an existing one is left as it is)."""
    checked = checked_input(
        DataMigrationInput(
            tenant_id=tenant_id or "", all_tenants=tenant_id is None, requested_by="schedule"
        )
    )
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            DataMigrationWorkflow.run,
            checked,
            id=data_migration_workflow_id(_scope(checked), "nightly"),
            task_queue=task_queue,
            execution_timeout=timedelta(hours=6),
        ),
        spec=ScheduleSpec(cron_expressions=[NIGHTLY]),
    )
    try:
        with acting_as(SecurityContext.system(ORIGIN)):
            await client.create_schedule(nightly_schedule_id(tenant_id), schedule)
    except ScheduleAlreadyRunningError:
        return False
    return True
