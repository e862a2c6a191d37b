"""The per-tenant Temporal Schedule of ``file_purge`` (``adx temporal schedule-file-purge``):
every night, as the platform (``system``), with the retention the settings give when it is
made. Idempotent: an existing schedule is left as it is."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleSpec,
)

from services.common.security_context import SecurityContext, acting_as
from workflows.file.file_purge import FilePurgeInput, FilePurgeWorkflow, file_purge_workflow_id

ORIGIN = "file-purge"
#: Every night at 02:41 UTC (off the hour, apart from the reconciliation's 03:17).
NIGHTLY = "41 2 * * *"


def file_purge_schedule_id(tenant_id: str) -> str:
    return f"file-purge-nightly-{tenant_id}"


async def ensure_file_purge_schedule(
    client: Client, tenant_id: str, *, retention_seconds: int, task_queue: str
) -> bool:
    """True when this call created the tenant's schedule (``ValueError``: not a tenant id)."""
    tenant = str(uuid.UUID(tenant_id))
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            FilePurgeWorkflow.run,
            FilePurgeInput(tenant, retention_seconds),
            id=file_purge_workflow_id(tenant),
            task_queue=task_queue,
            execution_timeout=timedelta(hours=6),
        ),
        spec=ScheduleSpec(cron_expressions=[NIGHTLY]),
    )
    try:
        with acting_as(SecurityContext.system(ORIGIN)):
            await client.create_schedule(file_purge_schedule_id(tenant), schedule)
    except ScheduleAlreadyRunningError:
        return False
    return True
