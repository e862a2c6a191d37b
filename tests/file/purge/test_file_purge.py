"""``file_purge`` on the real stack (PostgreSQL, Temporal, the session's file service): a file
soft-deleted longer ago than the retention is purged (row, blob, thumbnails, shares,
reservation gone, its bytes freed from the quota), a newer soft-deleted one, a live one and
another tenant's stay; a restored file is never purged and a repeated step purges nothing
twice; the nightly Schedule is made once and its run purges (as the tenant's schedule, with the
configured retention) while a start past the platform's services purges nothing; bad input is a 4xx, nothing started.
With ``ADX_RECORD_HISTORIES=1`` the run is the replay history ``tests/histories/file_purge.json``."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from temporalio.client import (
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.service import RPCError

from services.common.settings import ServiceName
from services.file.purge.activities import PurgeActivities
from services.file.purge.schedule import ensure_file_purge_schedule, file_purge_schedule_id
from storage.db import transaction
from storage.files.models import FileRecord, FileShare, UploadReservation
from storage.files.renditions import FileProcessing, FileRendition
from storage.files.repository import FileRepository
from tests.auth.mail_flows import record_history
from tests.file.file_api import READ_WRITE, Caller, FileApi
from tests.file.processing import images
from workflows.common.progress import PROGRESS_QUERY, Progress
from workflows.file.file_purge import (
    PURGE_STATUS_QUERY,
    FilePurgeInput,
    FilePurgeResult,
    FilePurgeWorkflow,
    PurgeReport,
    file_purge_workflow_id,
)
from workflows.file.purge_contracts import PurgeOutcome
from workflows.tenant.permissions import Permission

ADMIN = (*READ_WRITE, Permission.TENANT_MANAGE.value)
DAY = 24 * 3600


async def _uploaded(api: FileApi, client: httpx.AsyncClient, name: str, data: bytes) -> str:
    answer = await api.upload(client, name, data)
    assert answer.status_code == 202, answer.text
    done = await api.settled(client, answer.json()["file"]["id"])
    assert done["status"] == "ready", done
    file_id: str = done["id"]
    return file_id


async def _thumbnailed(client: httpx.AsyncClient, file_id: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        answer = await client.get(f"/files/{file_id}/processing")
        assert answer.status_code == 200, answer.text
        if answer.json()["status"] != "pending":
            assert answer.json()["status"] == "done", answer.json()
            return
        assert time.monotonic() < deadline, "never processed"
        await asyncio.sleep(0.2)


async def _deleted(client: httpx.AsyncClient, file_id: str) -> None:
    answer = await client.delete(f"/files/{file_id}")
    assert answer.status_code == 204, answer.text


async def _set_deleted_at(
    api: FileApi, caller: Caller, file_id: str, when: datetime | None
) -> None:
    async with transaction(api.resources.database, caller.tenant_id) as db:
        await db.execute(
            update(FileRecord)
            .where(FileRecord.id == uuid.UUID(file_id))
            .values(deleted_at=when)
            .execution_options(synchronize_session=False)
        )


async def _used(api: FileApi, caller: Caller) -> int:
    async with transaction(api.resources.database, caller.tenant_id) as db:
        return await FileRepository(db, caller.tenant_id).used_bytes()


async def _count(api: FileApi, caller: Caller, model: Any, column: Any, file_id: str) -> int:
    async with transaction(api.resources.database, caller.tenant_id) as db:
        rows = await db.scalars(select(model).where(column == uuid.UUID(file_id)))
        return len(list(rows))


async def _purge(
    api: FileApi, client: httpx.AsyncClient, **request: Any
) -> WorkflowHandle[Any, FilePurgeResult]:
    answer = await client.post("/storage/purges", json=request)
    assert answer.status_code == 202, answer.text
    return api.resources.temporal.get_workflow_handle(
        answer.json()["workflow_id"], result_type=FilePurgeResult
    )


def _thumbnail_blobs(api: FileApi, caller: Caller, file_id: str) -> list[str]:
    return [str(p) for p in api.blob_files(caller.tenant_id) if f"/thumbnails/{file_id}" in str(p)]


async def test_old_soft_deleted_files_are_purged_and_nothing_else(file_api: FileApi) -> None:
    api = file_api
    admin, other = api.caller(), api.caller()
    picture = images.png(320, 240)
    async with api.client(admin, ADMIN) as client, api.client(other, ADMIN) as theirs:
        old = await _uploaded(api, client, "old.png", picture)
        await _thumbnailed(client, old)
        newer = await _uploaded(api, client, "newer.txt", b"deleted an hour ago")
        live = await _uploaded(api, client, "live.txt", b"never deleted")
        foreign = await _uploaded(api, theirs, "b.txt", b"tenant B's old deleted file")
        old_row = await api.row(admin.tenant_id, old)
        assert old_row is not None
        async with transaction(api.resources.database, admin.tenant_id) as db:
            db.add(
                FileShare(
                    id=uuid.uuid4(),
                    tenant_id=admin.tenant_id,
                    file_id=old_row.id,
                    kind="tenant",
                    permission="viewer",
                    notify_status="none",
                )
            )
            db.add(UploadReservation(tenant_id=admin.tenant_id, upload_id=old_row.id, bytes=1))
        for file_id in (old, newer):
            await _deleted(client, file_id)
        await _deleted(theirs, foreign)
        long_ago = datetime.now(UTC) - timedelta(days=2)
        await _set_deleted_at(api, admin, old, long_ago)
        await _set_deleted_at(api, other, foreign, long_ago)
        assert _thumbnail_blobs(api, admin, old), "the PNG has thumbnails to purge"
        used = await _used(api, admin)

        run = await _purge(api, client, retention_seconds=DAY, batch_size=1)
        result = await run.result()

        report = result.report
        assert (report.total_files, report.purged_files, report.skipped_files) == (1, 1, 0)
        assert (report.total_bytes, report.purged_bytes) == (len(picture), len(picture))
        progress = await run.query(PROGRESS_QUERY, result_type=Progress)
        assert (progress.state, progress.percent, progress.step) == ("completed", 100, 1)
        status = await run.query(PURGE_STATUS_QUERY, result_type=PurgeReport)
        assert status.purged_files == 1
        await record_history(run, "file_purge")

        # The old file: row, blob, thumbnails, shares, reservation gone; its bytes freed.
        assert await api.row(admin.tenant_id, old) is None
        assert not await api.resources.blobs.exists(old_row.blob_key)
        assert _thumbnail_blobs(api, admin, old) == []
        assert await _count(api, admin, FileRendition, FileRendition.file_id, old) == 0
        assert await _count(api, admin, FileProcessing, FileProcessing.file_id, old) == 0
        assert await _count(api, admin, FileShare, FileShare.file_id, old) == 0
        assert await _count(api, admin, UploadReservation, UploadReservation.upload_id, old) == 0
        assert await _used(api, admin) == used - len(picture)
        # The newer soft-deleted file and the live one stay, bytes and all.
        for file_id in (newer, live):
            row = await api.row(admin.tenant_id, file_id)
            assert row is not None
            assert await api.resources.blobs.exists(row.blob_key)
        assert (await client.get(f"/files/{live}/content")).status_code == 200
        # Another tenant's old soft-deleted file is not touched by this tenant's purge.
        theirs_row = await api.row(other.tenant_id, foreign)
        assert theirs_row is not None and theirs_row.deleted_at is not None
        assert await api.resources.blobs.exists(theirs_row.blob_key)

        # Again: nothing left to purge.
        again = await (await _purge(api, client, retention_seconds=DAY)).result()
        assert (again.report.total_files, again.report.purged_files) == (0, 0)

        # Tenant B's own purge removes its file, and only that.
        mine = await (await _purge(api, theirs, retention_seconds=DAY)).result()
        assert mine.report.purged_files == 1
        assert await api.row(other.tenant_id, foreign) is None
        assert await api.row(admin.tenant_id, newer) is not None


async def test_a_restored_file_is_never_purged_and_a_repeated_step_purges_nothing_twice(
    file_api: FileApi,
) -> None:
    api = file_api
    admin = api.caller()
    activities = PurgeActivities(api.resources)
    cutoff = datetime.now(UTC) - timedelta(days=1)
    async with api.client(admin, ADMIN) as client:
        restored = await _uploaded(api, client, "restored.txt", b"brought back")
        due = await _uploaded(api, client, "due.txt", b"gone for good")
        for file_id in (restored, due):
            await _deleted(client, file_id)
            await _set_deleted_at(api, admin, file_id, cutoff - timedelta(days=1))
        # Listed as due, then restored before its purge step ran.
        await _set_deleted_at(api, admin, restored, None)
        outcome = await activities._purge(admin.tenant_id, uuid.UUID(restored), cutoff)
        assert outcome.status == PurgeOutcome.SKIPPED
        row = await api.row(admin.tenant_id, restored)
        assert row is not None and await api.resources.blobs.exists(row.blob_key)
        assert (await client.get(f"/files/{restored}/content")).content == b"brought back"

        first = await activities._purge(admin.tenant_id, uuid.UUID(due), cutoff)
        second = await activities._purge(admin.tenant_id, uuid.UUID(due), cutoff)
        assert (first.status, first.bytes) == (PurgeOutcome.PURGED, len(b"gone for good"))
        assert (second.status, second.bytes) == (PurgeOutcome.SKIPPED, 0)
        assert await api.row(admin.tenant_id, due) is None


async def test_the_nightly_schedule_is_created_once(file_api: FileApi) -> None:
    temporal = file_api.resources.temporal
    tenant = str(uuid.uuid4())
    queue = file_api.settings.task_queue(ServiceName.file)
    first = await ensure_file_purge_schedule(
        temporal, tenant, retention_seconds=DAY, task_queue=queue
    )
    second = await ensure_file_purge_schedule(
        temporal, tenant, retention_seconds=DAY, task_queue=queue
    )
    handle = temporal.get_schedule_handle(file_purge_schedule_id(tenant))
    try:
        described = await handle.describe()
        assert (first, second) == (True, False)
        [calendar] = described.schedule.spec.calendars
        assert (calendar.hour[0].start, calendar.minute[0].start) == (2, 41)
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.task_queue, action.id) == (
            "file_purge",
            queue,
            file_purge_workflow_id(tenant),
        )
        [arg] = await temporal.data_converter.decode(action.args, [FilePurgeInput])
        assert (arg.tenant_id, arg.retention_seconds) == (tenant, DAY)
    finally:
        await handle.delete()
    with pytest.raises(ValueError):
        await ensure_file_purge_schedule(
            temporal, "not-a-tenant", retention_seconds=DAY, task_queue=queue
        )


async def test_the_schedules_run_purges_and_a_bare_start_purges_nothing(
    file_api: FileApi,
) -> None:
    api = file_api
    admin = api.caller()
    temporal = api.resources.temporal
    tenant = str(admin.tenant_id)
    async with api.client(admin, ADMIN) as client:
        file_id = await _uploaded(api, client, "nightly.txt", b"deleted last week")
        await _deleted(client, file_id)
        await _set_deleted_at(api, admin, file_id, datetime.now(UTC) - timedelta(days=40))
    queue = api.settings.task_queue(ServiceName.file)

    # Started past the platform's services (no tenant, no user): refused, nothing purged.
    bare = await temporal.start_workflow(
        FilePurgeWorkflow.run,
        FilePurgeInput(tenant, 0),
        id=f"{file_purge_workflow_id(tenant)}-bare",
        task_queue=queue,
    )
    with pytest.raises(WorkflowFailureError):
        await bare.result()
    assert await api.row(admin.tenant_id, file_id) is not None

    retention = api.settings.file_purge_retention_seconds
    await ensure_file_purge_schedule(
        temporal, tenant, retention_seconds=retention, task_queue=queue
    )
    schedule = temporal.get_schedule_handle(file_purge_schedule_id(tenant))
    try:
        await schedule.trigger()
        deadline = time.monotonic() + 60
        while not (actions := (await schedule.describe()).info.recent_actions):
            assert time.monotonic() < deadline, "the schedule never started its run"
            await asyncio.sleep(0.2)
        started = actions[0].action
        assert isinstance(started, ScheduleActionExecutionStartWorkflow)
        assert started.workflow_id.startswith(file_purge_workflow_id(tenant))
        handle = temporal.get_workflow_handle(started.workflow_id, result_type=FilePurgeResult)
        result = await handle.result()
        assert result.report.purged_files == 1
        assert await api.row(admin.tenant_id, file_id) is None
    finally:
        await schedule.delete()


@pytest.mark.parametrize(
    "body",
    [
        {"retention_seconds": -1},
        {"retention_seconds": "x" * 1_000_000},
        {"retention_seconds": 10**30},
        {"batch_size": 0},
        {"batch_size": 10_000},
        {"unknown": 1},
        {"retention_seconds": {"a": [[[[[[[[[[1]]]]]]]]]]}},
        ["not", "an", "object"],
    ],
)
async def test_bad_input_is_refused_and_starts_nothing(file_api: FileApi, body: Any) -> None:
    admin = file_api.caller()
    async with file_api.client(admin, ADMIN) as client:
        answer = await client.post("/storage/purges", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    await _not_started(file_api, admin)


@pytest.mark.parametrize(
    "permissions",
    [READ_WRITE, (Permission.TENANT_MANAGE.value, Permission.FILES_READ.value)],
)
async def test_it_needs_tenant_manage_and_files_write(
    file_api: FileApi, permissions: tuple[str, ...]
) -> None:
    caller = file_api.caller()
    async with file_api.client(caller, permissions) as client:
        answer = await client.post("/storage/purges", json={})
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    async with file_api.client(None) as anonymous:
        assert (await anonymous.post("/storage/purges", json={})).status_code == 401
    await _not_started(file_api, caller)


async def _not_started(api: FileApi, caller: Caller) -> None:
    handle = api.resources.temporal.get_workflow_handle(
        file_purge_workflow_id(str(caller.tenant_id))
    )
    with pytest.raises(RPCError):
        await handle.describe()
