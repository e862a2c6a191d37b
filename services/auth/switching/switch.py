"""Switching the caller's session into another tenant: immediate, one statement (the claims read,
the session moved, the audit row), then a new access token. The bookkeeping that spans the
tenant service (the last active tenant, its permission cache) is ``tenant_switching``, started
after the answer is sent and throttled per session (``bookkeeping.py``: at most one start per
session per second, later switches merged into one trailing run): the switch does not wait for
it, nor fail with it, nor pay a Temporal start each time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from temporalio.common import WorkflowIDReusePolicy

from services.auth.login import NOT_A_MEMBER
from services.auth.runtime import AuthRuntime
from services.auth.sessions import ClientInfo
from services.auth.switching.bookkeeping import SwitchBookkeeping
from services.common.errors import ForbiddenError
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName
from services.common.tokens import Principal
from storage.auth.sessions import switch_session_tenant
from storage.db import single_statements
from workflows.tenant.tenant_switching import (
    OWNER_MEMO,
    TenantSwitchingInput,
    TenantSwitchingWorkflow,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Switched:
    access_token: str
    expires_in: int
    session_id: str
    tenant_id: uuid.UUID
    roles: list[str]
    permissions: list[str]
    bookkeeping: TenantSwitchingInput


async def switch_tenant(
    runtime: AuthRuntime, principal: Principal, tenant_id: uuid.UUID, client: ClientInfo
) -> Switched:
    """Move the caller's session into ``tenant_id``; 403 (the login's answer, whether the tenant
    exists or not) unless they hold claims there. A suspended tenant's claims are removed by its
    suspension, so it is refused the same way."""
    user_id, session_id = uuid.UUID(principal.user_id), uuid.UUID(principal.session_id)
    moment = datetime.now(UTC)
    async with single_statements(runtime.sessions.engine) as conn:
        moved = await switch_session_tenant(
            conn,
            session_id=session_id,
            user_id=user_id,
            tenant_id=tenant_id,
            now=moment,
            ip=client.ip,
        )
    if moved is None:
        raise ForbiddenError(NOT_A_MEMBER)
    access = runtime.issuer.access_token(
        user_id=principal.user_id,
        session_id=principal.session_id,
        tenant_id=str(tenant_id),
        roles=moved.roles,
        permissions=moved.permissions,
        auth_methods=moved.auth_methods,
        name=moved.name,
    )
    bookkeeping = TenantSwitchingInput(
        user_id=principal.user_id,
        session_id=principal.session_id,
        to_tenant_id=str(tenant_id),
        from_tenant_id=str(moved.previous_tenant_id) if moved.previous_tenant_id else None,
        switched_at=moment.isoformat(),
    )
    return Switched(
        access_token=access,
        expires_in=runtime.issuer.access_ttl,
        session_id=principal.session_id,
        tenant_id=tenant_id,
        roles=moved.roles,
        permissions=moved.permissions,
        bookkeeping=bookkeeping,
    )


def bookkeeping_for(runtime: AuthRuntime) -> SwitchBookkeeping:
    """The process's one throttle of ``tenant_switching`` starts."""
    found = runtime.resources.extensions.get("auth.switching")
    if found is None:

        async def start(switch: TenantSwitchingInput, workflow_id: str, roles: list[str]) -> None:
            await start_bookkeeping(runtime, switch, workflow_id, roles)

        found = runtime.resources.extensions["auth.switching"] = SwitchBookkeeping(start)
    return found  # type: ignore[no-any-return]


async def start_bookkeeping(
    runtime: AuthRuntime, switch: TenantSwitchingInput, workflow_id: str, roles: list[str]
) -> None:
    """Start ``tenant_switching`` for done switches, as the switching user (in the tenant they
    switched into last); failures are the caller's to log (``SwitchBookkeeping``)."""
    context = SecurityContext.for_user(
        switch.user_id, tenant_id=switch.to_tenant_id, roles=roles, session_id=switch.session_id
    )
    with acting_as(context):
        await runtime.temporal.start_workflow(
            TenantSwitchingWorkflow.run,
            switch,
            id=workflow_id,
            task_queue=runtime.settings.task_queue(ServiceName.tenant),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            memo={OWNER_MEMO: switch.user_id},
        )
