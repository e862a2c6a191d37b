"""Starting the tenant workflows from HTTP: under the caller's security context, through
``services/common/workflow_calls.py``, with the tenant's business failures mapped once."""

from __future__ import annotations

from typing import Any

from services.common import workflow_calls
from services.common.errors import ConflictError
from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName
from services.common.tokens import Principal
from services.common.workflow_calls import WorkflowErrors
from services.tenant.errors import TENANT_FAILURES
from services.tenant.schemas import WorkflowStarted


def errors(call: str, busy: str) -> WorkflowErrors:
    """``busy``: the answer when a run with this id is running (a double submit)."""
    return WorkflowErrors(
        call=call,
        already_started=lambda: ConflictError(busy),
        failures=TENANT_FAILURES,
    )


async def start(
    resources: Resources,
    principal: Principal,
    run: Any,
    arg: Any,
    *,
    workflow_id: str,
    busy: str,
) -> WorkflowStarted:
    """Start ``run`` as the caller; 409 (``busy``) while a run of that id runs."""
    with acting_as(SecurityContext.for_principal(principal)):
        await workflow_calls.start(
            resources.temporal,
            run,
            arg,
            id=workflow_id,
            task_queue=resources.settings.task_queue(ServiceName.tenant),
            errors=errors(workflow_id.split("-")[0], busy),
        )
    return WorkflowStarted(workflow_id=workflow_id)
