"""``tenant_switching`` on the real dev server, across the tenant and user workers: it records the
user's last active tenant, appends the tenant audit entry, records the ``last_tenant``
preference and drops the previous tenant's cached permissions; when a later step fails, the
preference and the recorded tenant are put back (compensation) and the run fails. With
``ADX_RECORD_HISTORIES=1`` the runs are the replay histories
``tests/histories/tenant_switching.services*.json`` (``tenant_switching.json`` and
``tenant_switching.compensated.json`` are runs from before the patch ``tenant-switching-services``,
kept to show they still replay)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName, Settings
from services.common.temporal import build_worker
from services.tenant.switching.activities import (
    SwitchingActivities,
    audit_stream_key,
    permission_cache_key,
)
from services.user.switching.activities import SwitchingActivities as UserSwitchingActivities
from storage.db import transaction
from storage.tenants.active_tenants import ActiveTenantRepository
from storage.tenants.models import Membership, Tenant
from storage.users.preferences import PreferencesRepository
from tests.auth.mail_flows import record_history
from workflows.tenant.tenant_switching import (
    CACHE_UNAVAILABLE,
    PREFERENCE_UNAVAILABLE,
    TenantSwitchingInput,
    TenantSwitchingResult,
    TenantSwitchingWorkflow,
    tenant_switching_workflow_id,
)


@pytest.fixture
async def tenant_queue(
    temporal: Client, settings: Settings, tenant_resources: Resources, user_resources: Resources
) -> AsyncIterator[str]:
    """The run's queue (the tenant service's), with the user service's worker beside it."""
    local = settings.model_copy(update={"task_queue_prefix": f"sw{uuid.uuid4().hex[:8]}"})
    queue = local.task_queue(ServiceName.tenant)
    worker = build_worker(
        temporal,
        local,
        task_queue=queue,
        workflows=[TenantSwitchingWorkflow],
        activities=SwitchingActivities(tenant_resources).all(),
    )
    user_worker = build_worker(
        temporal,
        local,
        task_queue=local.task_queue(ServiceName.user),
        workflows=[],
        activities=UserSwitchingActivities(user_resources).all(),
    )
    async with worker, user_worker:
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
    temporal: Client,
    queue: str,
    user_id: uuid.UUID,
    to: uuid.UUID,
    from_: str | None,
    switched_at: str | None = None,
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
                switched_at=switched_at or datetime.now(UTC).isoformat(),
            ),
            id=tenant_switching_workflow_id(session_id, uuid.uuid4().hex[:8]),
            task_queue=queue,
        )
    return handle


async def active_tenant(resources: Resources, user_id: uuid.UUID) -> uuid.UUID | None:
    async with transaction(resources.database, user_id=user_id) as db:
        row = await ActiveTenantRepository(db).current(user_id)
        return row.tenant_id if row is not None else None


async def stored_preferences(resources: Resources, user_id: uuid.UUID) -> dict[str, object]:
    async with transaction(resources.database, user_id=user_id) as db:
        row = await PreferencesRepository(db).of(user_id, None)
        return dict(row.values) if row is not None else {}


async def last_tenant(resources: Resources, user_id: uuid.UUID) -> str | None:
    value = (await stored_preferences(resources, user_id)).get("last_tenant")
    return value.get("tenant_id") if isinstance(value, dict) else None


async def audit_entries(resources: Resources, user_id: uuid.UUID) -> list[dict[str, str]]:
    raw: Any = await resources.redis.xrevrange(audit_stream_key(resources.redis_keys), count=500)
    entries = [
        {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in fields.items()
        }
        for _, fields in raw
    ]
    return [e for e in entries if e["user_id"] == str(user_id)]


async def test_switching_records_the_tenant_and_revokes_the_previous_cache(
    temporal: Client, tenant_queue: str, tenant_resources: Resources, user_resources: Resources
) -> None:
    user_id = uuid.uuid4()
    a = await tenant_with(tenant_resources, user_id, "owner")
    b = await tenant_with(tenant_resources, user_id, "viewer")
    redis, keys = tenant_resources.redis, tenant_resources.redis_keys
    await redis.set(permission_cache_key(keys, str(a), str(user_id)), "cached", ex=60)
    async with transaction(user_resources.database, user_id=user_id) as db:
        await PreferencesRepository(db).put(
            user_id, None, schema_version=1, values={"theme": "dark"}
        )

    first = await run_switch(temporal, tenant_queue, user_id, a, None)
    await first.result()
    handle = await run_switch(temporal, tenant_queue, user_id, b, str(a))
    result = await handle.result()
    progress = await handle.query(TenantSwitchingWorkflow.progress)
    await record_history(handle, "tenant_switching.services")

    assert result.previous_tenant_id == str(a) and result.permissions_revoked == 1
    assert result.audited and result.preference_recorded
    assert await active_tenant(tenant_resources, user_id) == b
    assert not await redis.exists(permission_cache_key(keys, str(a), str(user_id)))
    assert progress.state == "completed" and progress.percent == 100
    # The user service's copy: the preference, the user's other preferences kept.
    stored = await stored_preferences(user_resources, user_id)
    assert stored["theme"] == "dark" and await last_tenant(user_resources, user_id) == str(b)
    # The tenant service's audit: one entry per switch, ids only.
    entries = await audit_entries(tenant_resources, user_id)
    assert [(e["tenant_id"], e["from_tenant_ids"]) for e in entries] == [
        (str(b), str(a)),
        (str(a), ""),
    ]
    assert entries[0]["key"] == f"{handle.id}:audit"


async def test_a_failed_revocation_puts_the_previous_tenant_back(
    temporal: Client, tenant_queue: str, tenant_resources: Resources, user_resources: Resources
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
    await record_history(handle, "tenant_switching.services.compensated")

    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == CACHE_UNAVAILABLE
    assert await active_tenant(tenant_resources, user_id) == a
    assert await last_tenant(user_resources, user_id) == str(a)  # the preference put back
    assert progress.state == "failed"


async def test_a_failed_preference_puts_the_active_tenant_back(
    temporal: Client, tenant_queue: str, tenant_resources: Resources, user_resources: Resources
) -> None:
    user_id = uuid.uuid4()
    a = await tenant_with(tenant_resources, user_id, "owner")
    b = await tenant_with(tenant_resources, user_id, "member")
    await (await run_switch(temporal, tenant_queue, user_id, a, None)).result()
    # A stored document today's schema refuses: the preference step fails for good.
    async with transaction(user_resources.database, user_id=user_id) as db:
        await PreferencesRepository(db).put(
            user_id, None, schema_version=1, values={"theme": "pink"}
        )

    handle = await run_switch(temporal, tenant_queue, user_id, b, str(a))
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == PREFERENCE_UNAVAILABLE
    assert await active_tenant(tenant_resources, user_id) == a
    assert await stored_preferences(user_resources, user_id) == {"theme": "pink"}
    assert (await handle.query(TenantSwitchingWorkflow.progress)).state == "failed"


async def test_an_older_switch_never_overwrites_a_newer_preference(
    temporal: Client, tenant_queue: str, tenant_resources: Resources, user_resources: Resources
) -> None:
    user_id = uuid.uuid4()
    a = await tenant_with(tenant_resources, user_id, "owner")
    b = await tenant_with(tenant_resources, user_id, "member")
    older = datetime.now(UTC).isoformat()
    await (await run_switch(temporal, tenant_queue, user_id, b, None)).result()

    late = await run_switch(temporal, tenant_queue, user_id, a, str(b), switched_at=older)
    result = await late.result()

    assert not result.preference_recorded
    assert await last_tenant(user_resources, user_id) == str(b)
    assert await active_tenant(tenant_resources, user_id) == b


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
