"""Starting the GDPR runs (workflows/compliance/): an export as the person themself (their
security context: the run lists among their own), an erasure as the platform (``system``: the
run carries no ``AdxUserId``; the subject is only in its encrypted input, its id a pseudonym)."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from services.common.compliance import subject_ref
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import Settings
from services.common.tokens import Principal
from workflows.compliance.contracts import ErasureInput, ErasureResult, ExportInput, ExportResult
from workflows.compliance.gdpr_erasure import GdprErasureWorkflow, gdpr_erasure_workflow_id
from workflows.compliance.gdpr_export import GdprExportWorkflow, gdpr_export_workflow_id

ORIGIN = "gdpr-erasure"


async def start_export(
    client: Client, settings: Settings, principal: Principal, *, task_queue: str
) -> WorkflowHandle[Any, ExportResult]:
    export_id = uuid.uuid4().hex[:24]
    with acting_as(SecurityContext.for_principal(principal)):
        return await client.start_workflow(
            GdprExportWorkflow.run,
            ExportInput(
                export_id, principal.user_id, link_seconds=settings.compliance_export_link_seconds
            ),
            id=gdpr_export_workflow_id(export_id),
            task_queue=task_queue,
        )


def erasure_workflow_id(settings: Settings, user_id: str) -> str:
    return gdpr_erasure_workflow_id(subject_ref(settings, uuid.UUID(user_id)))


async def start_erasure(
    client: Client, settings: Settings, principal: Principal, *, task_queue: str
) -> WorkflowHandle[Any, ErasureResult]:
    """The caller's own erasure; a second request while one runs joins it."""
    ref = subject_ref(settings, uuid.UUID(principal.user_id))
    with acting_as(SecurityContext.system(ORIGIN)):
        return await client.start_workflow(
            GdprErasureWorkflow.run,
            ErasureInput(
                erasure_id=uuid.uuid4().hex,
                user_id=principal.user_id,
                subject_ref=ref,
                grace_seconds=settings.compliance_erasure_grace_seconds,
                decision_seconds=settings.compliance_decision_seconds,
            ),
            id=gdpr_erasure_workflow_id(ref),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
