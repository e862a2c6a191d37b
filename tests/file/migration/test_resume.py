"""A worker killed mid-batch: ``file.migrate_files`` heartbeats its outcomes (the position in the
batch), so the attempt a new worker runs starts after the files already verified and switched:
none is copied twice, and every copy in SeaweedFS matches its row's SHA-256."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
from typing import Any

from services.common.temporal import build_worker
from services.file.service import SPEC
from tests.file.migration.stores import ADMIN, MigrationApi, body, worker
from tests.file.migration.test_file_migration import start, stores_of
from workflows.file.migration_contracts import MIGRATE_FILES


async def _reported(run: Any, at_least: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    """The outcomes the pending copy activity has heartbeated, once there are ``at_least``."""
    deadline = time.monotonic() + timeout
    while True:
        description = await run.describe()
        for pending in description.raw_description.pending_activities:
            if pending.activity_type.name != MIGRATE_FILES.name:
                continue
            payloads = pending.heartbeat_details.payloads
            if payloads:
                converter = run._client.data_converter
                (details,) = await converter.decode(payloads)
                if len(details["outcomes"]) >= at_least:
                    return list(details["outcomes"])
        assert time.monotonic() < deadline, "no heartbeat with the outcomes so far"
        await asyncio.sleep(0.5)


async def test_a_killed_worker_resumes_without_copying_twice(
    idle_migration_api: MigrationApi,
) -> None:
    api = idle_migration_api
    admin = api.caller()
    datas = [body(50_000 + i, 200 + i) for i in range(8)]
    rows = [await api.seed(admin.tenant_id, data) for data in datas]
    api.s3.hold_after = 3  # the fourth copy of the batch waits: the worker dies there

    hard = api.settings.model_copy(update={"worker_graceful_shutdown_seconds": 0})
    doomed = build_worker(
        api.resources.temporal,
        hard,
        task_queue=hard.task_queue(SPEC.name),
        workflows=SPEC.workflows,
        activities=SPEC.activities(dataclasses.replace(api.resources, settings=hard)),
    )
    running = asyncio.create_task(doomed.run())
    async with api.client(admin, ADMIN) as client:
        run = await start(api, client, target="s3", batch_size=8)
        await asyncio.wait_for(api.s3.holding.wait(), 60)
        reported = await _reported(run, at_least=3)
        assert [o["status"] for o in reported] == ["moved"] * 3
        running.cancel()  # killed mid-batch, the fourth copy in flight
        await asyncio.gather(running, return_exceptions=True)
        assert sum(api.s3.copies.values()) == 3

        api.s3.hold_after = None
        api.s3.release.set()
        async with worker(api):
            result = await asyncio.wait_for(run.result(), 120)

    history = await run.fetch_history()
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert max(attempts) >= 2, "the batch was not retried after the kill"
    report = result.report
    assert (report.moved_files, report.failed_files, report.skipped_files) == (8, 0, 0)
    assert report.moved_bytes == sum(map(len, datas))
    assert sorted(api.s3.copies.values()) == [1] * 8, f"a blob was copied twice: {api.s3.copies}"
    assert set((await stores_of(api, admin.tenant_id)).values()) == {"s3"}
    for row, data in zip(rows, datas, strict=True):
        copy = await api.s3.inner.get(row.blob_key)
        assert hashlib.sha256(copy).hexdigest() == row.sha256 and copy == data
        assert not await api.local.inner.exists(row.blob_key)
