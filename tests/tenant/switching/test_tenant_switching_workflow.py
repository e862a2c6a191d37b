"""``tenant_switching`` on the real dev server: it records the user's last active tenant and drops
the previous tenant's cached permissions; when that fails, the recorded tenant is put back
(compensation) and the run fails. With ``ADX_RECORD_HISTORIES=1`` the first run is the replay
history (``tests/histories/tenant_switching.json``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName, Settings
from services.common.temporal import build_worker
from services.tenant.switching.activities import SwitchingActivities, permission_cache_key
from storage.db import transaction
from storage.tenants.active_tenants import ActiveTenantRepository
from storage.tenants.models import Membership, Tenant
from tests.auth.mail_flows import record_history
from workflows.tenant.tenant_switching import (
    CACHE_UNAVAILABLE,
    TenantSwitchingInput,
    TenantSwitchingResult,
    TenantSwitchingWorkflow,
    tenant_switching_workflow_id,
)


@pytest.fixture
async def tenant_queue(
    temporal: Client, settings: Settings, tenant_resources: Resources
) -> AsyncIterator[str]:
    local = settings.model_copy(update={"task_queue_prefix": f"sw{uuid.uuid4().hex[:8]}"})
    queue = local.task_queue(ServiceName.tenant)
    worker = build_worker(
        temporal,
        local,
        task_queue=queue,
        workflows=[TenantSwitchingWorkflow],
        activities=SwitchingActivities(tenant_resources).all(),
    )
    async with worker:
        yield queue


async def tenant_with(resources: Resources, user_id: uuid.UUID, role: str) -> uuid.UUID:
    tenant_id = uuid.uuid4()
    async with transaction(resources.database, tenant_id, user_id=user_id) as db:
        db.add(
            Tenant(
                id=tenant_id,
                slug=f"t-{tenant_id.hex[:12]}",
                name="Switching test",
                status="active",
                seat_quota=5,
                storage_quota_bytes=1024,
                created_by=user_id,
                idempotency_key=f"test:{tenant_id}",
            )
        )
        await db.flush()
        db.add(Membership(tenant_id=tenant_id, user_id=user_id, role=role))
    return tenant_id


async def run_switch(
    temporal: Client, queue: str, user_id: uuid.UUID, to: uuid.UUID, from_: str | None
) -> WorkflowHandle[TenantSwitchingWorkflow, TenantSwitchingResult]:
    session_id = str(uuid.uuid4())
    with acting_as(SecurityContext.for_user(str(user_id), tenant_id=str(to), roles=["owner"])):
        handle = await temporal.start_workflow(
            TenantSwitchingWorkflow.run,
            TenantSwitchingInput(
                user_id=str(user_id),
                session_id=session_id,
                to_tenant_id=str(to),
                from_tenant_id=from_,
                switched_at=datetime.now(UTC).isoformat(),
            ),
            id=tenant_switching_workflow_id(session_id, uuid.uuid4().hex[:8]),
            task_queue=queue,
        )
    return handle


async def active_tenant(resources: Resources, user_id: uuid.UUID) -> uuid.UUID | None:
    async with transaction(resources.database, user_id=user_id) as db:
        row = await ActiveTenantRepository(db).current(user_id)
        return row.tenant_id if row is not None else None


async def test_switching_records_the_tenant_and_revokes_the_previous_cache(
    temporal: Client, tenant_queue: str, tenant_resources: Resources
) -> None:
    user_id = uuid.uuid4()
    a = await tenant_with(tenant_resources, user_id, "owner")
    b = await tenant_with(tenant_resources, user_id, "viewer")
    redis, keys = tenant_resources.redis, tenant_resources.redis_keys
    await redis.set(permission_cache_key(keys, str(a), str(user_id)), "cached", ex=60)

    first = await run_switch(temporal, tenant_queue, user_id, a, None)
    await first.result()
    handle = await run_switch(temporal, tenant_queue, user_id, b, str(a))
    result = await handle.result()
    progress = await handle.query(TenantSwitchingWorkflow.progress)
    await record_history(handle, "tenant_switching")

    assert result.previous_tenant_id == str(a) and result.permissions_revoked == 1
    assert await active_tenant(tenant_resources, user_id) == b
    assert not await redis.exists(permission_cache_key(keys, str(a), str(user_id)))
    assert progress.state == "completed" and progress.percent == 100


async def test_a_failed_revocation_puts_the_previous_tenant_back(
    temporal: Client, tenant_queue: str, tenant_resources: Resources
) -> None:
    user_id = uuid.uuid4()
    a = await tenant_with(tenant_resources, user_id, "owner")
    b = await tenant_with(tenant_resources, user_id, "member")
    await (await run_switch(temporal, tenant_queue, user_id, a, None)).result()

    # A previous tenant id the cache step refuses (non-retryable): the saga compensates.
    handle = await run_switch(temporal, tenant_queue, user_id, b, "not-a-tenant-id")
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    progress = await handle.query(TenantSwitchingWorkflow.progress)
    await record_history(handle, "tenant_switching.compensated")

    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == CACHE_UNAVAILABLE
    assert await active_tenant(tenant_resources, user_id) == a
    assert progress.state == "failed"


async def test_a_tenant_the_user_left_is_not_recorded(
    temporal: Client, tenant_queue: str, tenant_resources: Resources
) -> None:
    user_id = uuid.uuid4()
    stranger = uuid.uuid4()
    foreign = await tenant_with(tenant_resources, stranger, "owner")

    handle = await run_switch(temporal, tenant_queue, user_id, foreign, None)
    with pytest.raises(WorkflowFailureError):
        await handle.result()

    assert await active_tenant(tenant_resources, user_id) is None


async def test_a_merged_run_revokes_every_tenant_left(
    temporal: Client, tenant_queue: str, tenant_resources: Resources
) -> None:
    user_id = uuid.uuid4()
    a, b, c = [await tenant_with(tenant_resources, user_id, "member") for _ in range(3)]
    redis, keys = tenant_resources.redis, tenant_resources.redis_keys
    for left in (a, b):
        await redis.set(permission_cache_key(keys, str(left), str(user_id)), "cached", ex=60)
    session_id = str(uuid.uuid4())
    with acting_as(SecurityContext.for_user(str(user_id), tenant_id=str(c), roles=["member"])):
        handle = await temporal.start_workflow(
            TenantSwitchingWorkflow.run,
            TenantSwitchingInput(
                user_id=str(user_id),
                session_id=session_id,
                to_tenant_id=str(c),
                from_tenant_id=str(a),
                switched_at=datetime.now(UTC).isoformat(),
                also_left_tenant_ids=[str(b), str(c), str(a)],  # c: the current one, skipped
            ),
            id=tenant_switching_workflow_id(session_id, "merged"),
            task_queue=tenant_queue,
        )
    result = await handle.result()

    assert result.permissions_revoked == 2
    assert await active_tenant(tenant_resources, user_id) == c
    for left in (a, b):
        assert not await redis.exists(permission_cache_key(keys, str(left), str(user_id)))
