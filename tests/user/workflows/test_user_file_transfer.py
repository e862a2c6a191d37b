"""``user_deactivation``'s file step on the real stack: with ``file_policy=transfer`` the
member's live files in the tenant go to the new owner (a deleted one and other people's stay),
recorded per run; the reactivation moves back only those files, and only the ones their new
owner still owns (one passed on meanwhile stays where it is)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from storage.db import transaction
from storage.files.models import FileRecord, FileTransfer
from tests.user.workflows.test_user_deactivation import _member_of_a_tenant
from workflows.accounts.user_deactivation import (
    UserDeactivationInput,
    UserDeactivationWorkflow,
    user_deactivation_workflow_id,
)

pytestmark = pytest.mark.timeout(240)


async def _file(
    files: Resources, tenant_id: uuid.UUID, owner: uuid.UUID, **extra: Any
) -> uuid.UUID:
    file_id = uuid.uuid4()
    async with transaction(files.database, tenant_id) as db:
        db.add(
            FileRecord(
                id=file_id,
                tenant_id=tenant_id,
                name=f"f-{file_id.hex[:8]}.txt",
                blob_key=f"tenants/{tenant_id}/{file_id}",
                size=1,
                sha256="0" * 64,
                content_type="text/plain",
                owner_id=owner,
                status="ready",
                **extra,
            )
        )
    return file_id


async def _owners(
    files: Resources, tenant_id: uuid.UUID, ids: list[uuid.UUID]
) -> list[uuid.UUID | None]:
    async with transaction(files.database, tenant_id) as db:
        rows = dict(
            (
                await db.execute(
                    select(FileRecord.id, FileRecord.owner_id).where(FileRecord.id.in_(ids))
                )
            ).all()
        )
    return [rows[i] for i in ids]


async def _run(
    temporal: Client, stack: Any, owner: Any, member: Any, tenant_id: str, **fields: Any
) -> Any:
    context = SecurityContext.for_user(str(owner.id), tenant_id=tenant_id, roles=["owner"])
    with acting_as(context):
        handle = await temporal.start_workflow(
            UserDeactivationWorkflow.run,
            UserDeactivationInput(
                user_id=str(member.id), actor_id=str(owner.id), tenant_id=tenant_id, **fields
            ),
            id=user_deactivation_workflow_id(str(member.id)) + uuid.uuid4().hex[:6],
            task_queue=f"{stack.prefix}-user",
        )
    return await handle.result()


async def test_transfer_then_reactivation_moves_back_only_what_it_moved(
    temporal: Client,
    user_stack: Any,
    auth_runtime: AuthRuntime,
    auth_client: httpx.AsyncClient,
    tenant_resources: Resources,
    user_resources: Resources,
    file_resources: Resources,
) -> None:
    async with user_stack() as stack:
        owner, member, tenant = await _member_of_a_tenant(
            temporal, stack, auth_runtime, tenant_resources, user_resources
        )
        tid, third = uuid.UUID(tenant), uuid.uuid4()
        kept, passed_on = (
            await _file(file_resources, tid, member.id),
            await _file(file_resources, tid, member.id),
        )
        deleted = await _file(file_resources, tid, member.id, deleted_at=datetime.now(UTC))
        owners_own = await _file(file_resources, tid, owner.id)
        files = [kept, passed_on, deleted, owners_own]

        off = await _run(
            temporal,
            stack,
            owner,
            member,
            tenant,
            file_policy="transfer",
            transfer_to=str(owner.id),
        )
        assert off.status == "deactivated" and off.files_transferred == 2
        assert await _owners(file_resources, tid, files) == [
            owner.id,
            owner.id,
            member.id,
            owner.id,
        ]
        async with transaction(file_resources.database, tid) as db:
            recorded = set(
                (
                    await db.scalars(
                        select(FileTransfer.file_id).where(FileTransfer.tenant_id == tid)
                    )
                ).all()
            )
            assert recorded == {kept, passed_on}
            # The new owner passes one on before the user comes back.
            await db.execute(
                update(FileRecord).where(FileRecord.id == passed_on).values(owner_id=third)
            )

        back = await _run(temporal, stack, owner, member, tenant, reactivate=True)

        assert back.status == "active" and back.files_transferred == 1
        assert await _owners(file_resources, tid, files) == [member.id, third, member.id, owner.id]
        async with transaction(file_resources.database, tid) as db:
            restored = (
                await db.scalars(
                    select(FileTransfer.restored_at).where(FileTransfer.tenant_id == tid)
                )
            ).all()
        assert len(restored) == 2 and all(r is not None for r in restored)


async def test_keep_moves_nothing(
    temporal: Client,
    user_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
    file_resources: Resources,
) -> None:
    async with user_stack() as stack:
        owner, member, tenant = await _member_of_a_tenant(
            temporal, stack, auth_runtime, tenant_resources, user_resources
        )
        tid = uuid.UUID(tenant)
        mine = await _file(file_resources, tid, member.id)
        off = await _run(
            temporal, stack, owner, member, tenant, file_policy="keep", transfer_to=str(owner.id)
        )
        assert off.files_transferred == 0
        assert await _owners(file_resources, tid, [mine]) == [member.id]
        back = await _run(temporal, stack, owner, member, tenant, reactivate=True)
        assert back.files_transferred == 0
