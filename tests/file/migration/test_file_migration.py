"""``file_migration`` on the real stack (PostgreSQL, Temporal, the session's SeaweedFS): a
tenant's files move to S3 while downloads keep answering the right bytes (served from the old
store until a copy is verified), then back; a copy that does not match its SHA-256 is reported
and the file stays where it was; a cancelled run leaves every file readable and no unswitched
copy behind. With ``ADX_RECORD_HISTORIES=1`` the runs are the replay histories
``tests/histories/file_migration*.json``; a large tenant's run continues as new."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle

from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName
from storage.blobs import BlobNotFoundError
from storage.db import transaction
from storage.files.models import FileRecord
from storage.files.renditions import FileRendition, rendition_key
from tests.auth.mail_flows import record_history
from tests.file.migration.stores import ADMIN, MIB, MigrationApi, body
from workflows.common.progress import PROGRESS_QUERY, Progress
from workflows.file.file_migration import (
    MIGRATION_STATUS_QUERY,
    FileMigrationInput,
    FileMigrationResult,
    FileMigrationWorkflow,
    MigrationReport,
    file_migration_workflow_id,
)
from workflows.file.processing_contracts import THUMBNAIL_SIZES


async def start(
    api: MigrationApi, client: httpx.AsyncClient, **request: Any
) -> WorkflowHandle[Any, FileMigrationResult]:
    answer = await client.post("/storage/migrations", json=request)
    assert answer.status_code == 202, answer.text
    workflow_id = answer.json()["workflow_id"]
    return api.resources.temporal.get_workflow_handle(workflow_id, result_type=FileMigrationResult)


async def downloaded(client: httpx.AsyncClient, row: FileRecord) -> bytes:
    answer = await client.get(f"/files/{row.id}/content")
    assert answer.status_code == 200, answer.text
    return answer.content


async def stores_of(api: MigrationApi, tenant_id: uuid.UUID) -> dict[uuid.UUID, str | None]:
    return {row.id: row.store for row in await api.rows(tenant_id)}


async def in_s3(api: MigrationApi, row: FileRecord) -> bytes | None:
    """The object as SeaweedFS holds it (read past the service), None if absent."""
    try:
        return await api.s3.inner.get(row.blob_key)
    except BlobNotFoundError:
        return None


async def test_files_move_to_s3_and_back_while_downloads_keep_working(
    migration_api: MigrationApi,
) -> None:
    api = migration_api
    admin, other = api.caller(), api.caller()
    datas = [body(size, seed) for seed, size in enumerate([10, 4096, 6 * MIB + 7, 300_000, 1])]
    rows = [await api.seed(admin.tenant_id, data) for data in datas]
    bystander = await api.seed(other.tenant_id, b"tenant B stays local")
    api.s3.hold_after = 2  # the third copy waits: the run is mid-way

    async with api.client(admin, ADMIN) as client:
        run = await start(api, client, target="s3", batch_size=2)
        await asyncio.wait_for(api.s3.holding.wait(), 60)
        # Mid-run: two files verified in S3, the rest still local; every download is right.
        progress = await run.query(PROGRESS_QUERY, result_type=Progress)
        assert (progress.state, progress.total) == ("running", 5), progress
        for row, data in zip(rows, datas, strict=True):
            assert await downloaded(client, row) == data
        moved = {i for i, s in (await stores_of(api, admin.tenant_id)).items() if s == "s3"}
        assert len(moved) == 2
        api.s3.release.set()
        result = await run.result()

        report = result.report
        assert (report.moved_files, report.failed_files, report.skipped_files) == (5, 0, 0)
        assert (report.total_files, report.moved_bytes) == (5, sum(map(len, datas)))
        assert (await run.query(PROGRESS_QUERY, result_type=Progress)).percent == 100
        status = await run.query(MIGRATION_STATUS_QUERY, result_type=MigrationReport)
        assert status.moved_files == 5 and status.batches == 3
        assert set((await stores_of(api, admin.tenant_id)).values()) == {"s3"}
        for row, data in zip(rows, datas, strict=True):
            assert await in_s3(api, row) == data, "SeaweedFS holds the verified copy"
            assert not await api.local.inner.exists(row.blob_key), "the local copy is gone"
            assert await downloaded(client, row) == data  # now served from S3
        assert sorted(api.s3.copies.values()) == [1] * 5
        await record_history(run, "file_migration")

        back = await start(api, client, source="s3", target="local")
        assert (await back.result()).report.moved_files == 5
        assert set((await stores_of(api, admin.tenant_id)).values()) == {"local"}
        for row, data in zip(rows, datas, strict=True):
            assert await in_s3(api, row) is None
            assert await api.local.inner.get(row.blob_key) == data
            assert await downloaded(client, row) == data

    # Tenant B's file never moved.
    assert (await stores_of(api, other.tenant_id)) == {bystander.id: None}
    assert await api.local.inner.get(bystander.blob_key) == b"tenant B stays local"


async def test_a_copy_that_does_not_match_its_checksum_stays_put_and_is_reported(
    migration_api: MigrationApi,
) -> None:
    api = migration_api
    admin = api.caller()
    good = await api.seed(admin.tenant_id, b"intact bytes")
    bad = await api.seed(admin.tenant_id, b"bit rot", sha256=hashlib.sha256(b"other").hexdigest())
    async with api.client(admin, ADMIN) as client:
        result = await (await start(api, client, target="s3")).result()
        report = result.report
        assert (report.moved_files, report.failed_files) == (1, 1)
        assert [f.file_id for f in report.failures] == [str(bad.id)]
        assert "SHA-256" in report.failures[0].reason
        stores = await stores_of(api, admin.tenant_id)
        assert (stores[good.id], stores[bad.id]) == ("s3", None)
        assert await in_s3(api, bad) is None, "the unverified copy was removed"
        assert await api.local.inner.get(bad.blob_key) == b"bit rot"
        assert await downloaded(client, good) == b"intact bytes"


async def test_a_cancelled_migration_leaves_every_file_readable(
    migration_api: MigrationApi,
) -> None:
    api = migration_api
    admin = api.caller()
    datas = [body(2000 + i, 100 + i) for i in range(4)]
    rows = [await api.seed(admin.tenant_id, data) for data in datas]
    api.s3.hold_after = 1
    async with api.client(admin, ADMIN) as client:
        run = await start(api, client, target="s3", batch_size=4)
        await asyncio.wait_for(api.s3.holding.wait(), 60)
        await run.cancel()  # the held copy is cancelled with its activity: never written
        with pytest.raises(WorkflowFailureError):
            await run.result()
        progress = await run.query(PROGRESS_QUERY, result_type=Progress)
        assert progress.state == "failed", progress
        stores = await stores_of(api, admin.tenant_id)
        for row, data in zip(rows, datas, strict=True):
            assert await downloaded(client, row) == data
            if stores[row.id] == "s3":
                assert await in_s3(api, row) == data
            else:
                assert stores[row.id] is None
                assert await in_s3(api, row) is None, "an unswitched copy was left in S3"
                assert await api.local.inner.get(row.blob_key) == data
        assert list(stores.values()).count("s3") == 1
    await record_history(run, "file_migration.cancelled")


async def test_a_second_migration_while_one_runs_is_a_conflict(
    migration_api: MigrationApi,
) -> None:
    api = migration_api
    admin = api.caller()
    await api.seed(admin.tenant_id, b"x")
    api.s3.hold_after = 0
    async with api.client(admin, ADMIN) as client:
        run = await start(api, client, target="s3")
        await asyncio.wait_for(api.s3.holding.wait(), 60)
        again = await client.post("/storage/migrations", json={"target": "s3"})
        assert again.status_code == 409, again.text
        api.s3.release.set()
        assert (await run.result()).report.moved_files == 1


async def test_a_large_tenant_continues_as_new_carrying_its_report(
    migration_api: MigrationApi,
) -> None:
    """One batch per run (``batches_per_run=1``): every run after the first starts from the
    carried cursor and report, and the last one's result counts every file once."""
    api = migration_api
    admin = api.caller()
    datas = [body(3000 + i, 300 + i) for i in range(3)]
    rows = [await api.seed(admin.tenant_id, data) for data in datas]
    tenant = str(admin.tenant_id)
    context = SecurityContext.for_user(str(admin.user_id), tenant_id=tenant, roles=["admin"])
    with acting_as(context):
        run = await api.resources.temporal.start_workflow(
            FileMigrationWorkflow.run,
            FileMigrationInput(tenant, "local", "s3", batch_size=1, batches_per_run=1),
            id=file_migration_workflow_id(tenant),
            task_queue=api.settings.task_queue(ServiceName.file),
        )
    result = await run.result()
    report = result.report
    assert (report.total_files, report.moved_files, report.batches) == (3, 3, 3)
    assert report.moved_bytes == report.done_bytes == sum(map(len, datas))
    description = await api.resources.temporal.get_workflow_handle(run.id).describe()
    assert description.run_id != run.first_execution_run_id, "it never continued as new"
    for row, data in zip(rows, datas, strict=True):
        assert await in_s3(api, row) == data
    first = api.resources.temporal.get_workflow_handle(run.id, run_id=run.first_execution_run_id)
    await record_history(first, "file_migration.continued")  # one batch, then continue-as-new


async def _with_thumbnails(
    api: MigrationApi, row: FileRecord, *, wrong_sha256: bool = False
) -> dict[int, bytes]:
    """Thumbnail blobs (in the local store, beside the file) and their rows for ``row``."""
    thumbnails = {size: f"webp {size} of {row.id}".encode() * 40 for size in THUMBNAIL_SIZES}
    async with transaction(api.resources.database, row.tenant_id) as db:
        for size, data in thumbnails.items():
            key = rendition_key(row.tenant_id, row.id, size)
            await api.local.inner.put(key, data)
            digest = hashlib.sha256(b"other" if wrong_sha256 else data).hexdigest()
            db.add(
                FileRendition(
                    tenant_id=row.tenant_id,
                    file_id=row.id,
                    size=size,
                    width=size,
                    height=size,
                    content_type="image/webp",
                    blob_key=key,
                    sha256=digest,
                )
            )
    return thumbnails


async def test_thumbnails_move_with_their_file_to_s3_and_back(
    migration_api: MigrationApi,
) -> None:
    api = migration_api
    admin = api.caller()
    row = await api.seed(admin.tenant_id, body(70_000, 41), name="picture.bin")
    thumbnails = await _with_thumbnails(api, row)
    broken = await api.seed(admin.tenant_id, body(5_000, 42), name="broken.bin")
    await _with_thumbnails(api, broken, wrong_sha256=True)

    async with api.client(admin, ADMIN) as client:
        report = (await (await start(api, client, target="s3")).result()).report
        assert (report.moved_files, report.failed_files) == (1, 1), report
        assert report.failures[0].file_id == str(broken.id)
        assert "thumbnail" in report.failures[0].reason
        assert await stores_of(api, admin.tenant_id) == {row.id: "s3", broken.id: None}
        for size, data in thumbnails.items():
            key = rendition_key(admin.tenant_id, row.id, size)
            assert await api.s3.inner.get(key) == data, "the thumbnail moved to SeaweedFS"
            assert not await api.local.inner.exists(key), "and left the local store"
            served = await client.get(f"/files/{row.id}/thumbnails/{size}")
            assert served.status_code == 200 and served.content == data
        for size in THUMBNAIL_SIZES:  # the failed file's thumbnails: where they were, only
            key = rendition_key(admin.tenant_id, broken.id, size)
            assert await api.local.inner.exists(key) and not await api.s3.inner.exists(key)

        back = (await (await start(api, client, source="s3", target="local")).result()).report
        assert back.moved_files == 1, back
        for size, data in thumbnails.items():
            key = rendition_key(admin.tenant_id, row.id, size)
            assert await api.local.inner.get(key) == data
            assert not await api.s3.inner.exists(key)
            served = await client.get(f"/files/{row.id}/thumbnails/{size}")
            assert served.status_code == 200 and served.content == data


async def test_an_unfinished_tus_upload_is_left_out_and_counted(
    migration_api: MigrationApi,
) -> None:
    api = migration_api
    admin = api.caller()
    row = await api.seed(admin.tenant_id, body(3_000, 43))
    data = body(9_000, 44)
    tus = {"tus-resumable": "1.0.0"}
    metadata = "filename " + base64.b64encode(b"late.bin").decode()
    async with api.client(admin, ADMIN) as client:
        created = await client.post(
            "/uploads/tus/",
            headers={**tus, "upload-length": str(len(data)), "upload-metadata": metadata},
        )
        assert created.status_code == 201, created.text
        location = urlsplit(created.headers["location"]).path
        report = (await (await start(api, client, target="s3")).result()).report
        assert (report.moved_files, report.uploads_in_progress) == (1, 1), report

        # The upload finishes after the run: it lands in the default store, as any upload.
        patch = {**tus, "content-type": "application/offset+octet-stream", "upload-offset": "0"}
        finished = await client.patch(location, content=data, headers=patch)
        assert finished.status_code == 204, finished.text
        file_id = uuid.UUID(location.rstrip("/").rsplit("/", 1)[1])
        done = await api.settled(client, str(file_id))
        assert done["status"] == "ready"
        assert await downloaded(client, row) == body(3_000, 43)
    assert (await stores_of(api, admin.tenant_id)) == {row.id: "s3", file_id: "local"}
