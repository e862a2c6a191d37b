"""Backups hold the S3 store too: a stack whose tenant's files file_migration moved to S3
(a real SeaweedFS) is backed up, torn down (database, Temporal, data dir, every object of the
bucket deleted), and restored into a fresh stack and the empty bucket: every file's bytes, by
SHA-256, are in the store its row names. A backup with one changed byte in an S3 object is
refused with nothing written, and so is a target bucket that already holds objects.

The SeaweedFS is this module's own, not the session's: a restore needs a bucket that is empty,
the session's one bucket is shared by every S3 test, and its volumes (``-volume.max=4``) leave
no room for a second bucket (a new bucket's writes fail with InternalError)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import tarfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus

from services.auth.runtime import runtime_for
from services.common.backup import S3_PART, BackupError, restore_backup
from services.common.resources import Resources
from services.common.settings import ServiceName
from services.common.temporal import connect_temporal
from services.devstack.ports import accepts_connections, free_port
from services.devstack.seaweedfs import start_seaweedfs
from services.devstack.temporal import start_temporal_dev_server
from storage.db import transaction
from storage.files.models import FileRecord
from storage.migrate import migrate
from storage.s3_blobs import S3BlobStore, S3Config
from tests.file.migration.stores import ADMIN, MIB, body, build, worker
from tests.operations.backup.stacks import (
    admin,
    adx,
    bucket_objects,
    empty_bucket,
    s3_env,
    settings_of,
    stack_env,
)
from tests.support import RUN_ID

pytestmark = [
    pytest.mark.skipif(
        not accepts_connections("127.0.0.1", 5432) or not accepts_connections("127.0.0.1", 6379),
        reason="needs the machine's PostgreSQL (5432) and Redis (6379)",
    ),
    # Two Temporal dev servers, a migration, three restores of a 6 MiB bucket on a loaded box.
    pytest.mark.timeout(420),
]


@pytest.fixture(scope="module")
def own_seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Config]:
    running = start_seaweedfs(tmp_path_factory.mktemp("seaweed-backup"), die_with_parent=True)
    try:
        yield running.config
    finally:
        running.stop()


@pytest.fixture
async def bucket(own_seaweed: S3Config) -> AsyncIterator[S3BlobStore]:
    """The bucket, read and emptied past the services; left empty."""
    store = await S3BlobStore.open(own_seaweed)
    try:
        yield store
    finally:
        await empty_bucket(store)
        await store.close()


def _flip_a_byte_of_an_object(tar_path: Path) -> str:
    """Change one byte in the data of the tar's largest member (not its header); its name."""
    with tarfile.open(tar_path) as tar:
        member = max(tar.getmembers(), key=lambda m: m.size)
    with tar_path.open("r+b") as handle:
        handle.seek(member.offset_data + member.size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0xFF]))
    return member.name


async def _database_exists(name: str) -> bool:
    return bool(await admin(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))


async def test_s3_files_of_a_migrated_tenant_survive_backup_and_restore(
    tmp_path: Path, own_seaweed: S3Config, bucket: S3BlobStore
) -> None:
    db_a, db_b, db_c = (f"adx_s3backup_{n}_{RUN_ID}" for n in "abc")
    port_a, port_b = free_port(), free_port()
    s3 = s3_env(own_seaweed, bucket.bucket)
    env_a = {**stack_env(tmp_path / "a", port_a, db_a), **s3}
    env_b = {**stack_env(tmp_path / "b", port_b, db_b), **s3}
    settings_a = settings_of(env_a)
    temporal_a = await asyncio.to_thread(
        start_temporal_dev_server, tmp_path / "a", port_a, None, echo=False, die_with_parent=True
    )
    temporal_b = None
    opened: list[Resources] = []
    try:
        # --- stack A: tenant T's files moved to S3 by file_migration, tenant U's stay local
        await migrate(settings_a)
        auth = await Resources.open(settings_a, ServiceName.auth)
        file_res = await Resources.open(settings_a, ServiceName.file)
        opened += [auth, file_res]
        api = build(settings_a, file_res, runtime_for(auth), file_res.blob_stores["s3"])
        moved, stays = api.caller(), api.caller()
        datas = [body(6 * MIB + 7, 1), body(300_000, 2), body(1, 3)]  # one multipart object
        owners = [moved.tenant_id] * len(datas) + [stays.tenant_id]
        rows = [await api.seed(moved.tenant_id, data) for data in datas]
        rows.append(await api.seed(stays.tenant_id, b"tenant U stays local"))
        async with worker(api), api.client(moved, ADMIN) as client:
            answer = await client.post("/storage/migrations", json={"target": "s3"})
            assert answer.status_code == 202, answer.text
            migration_id = answer.json()["workflow_id"]
            run = file_res.temporal.get_workflow_handle(migration_id)
            await asyncio.wait_for(run.result(), 120)
        before = {}
        for tenant_id, row in zip(owners, rows, strict=True):
            stored = await api.row(tenant_id, row.id)
            assert stored is not None
            before[row.id] = (tenant_id, stored.store, stored.blob_key, stored.sha256)
        assert [before[row.id][1] for row in rows] == ["s3", "s3", "s3", None]
        in_bucket = await bucket_objects(bucket)
        assert in_bucket == {
            row.blob_key: hashlib.sha256(data).hexdigest()
            for row, data in zip(rows[: len(datas)], datas, strict=True)
        }

        # --- back up (the default backend is local; the bucket is a migration target)
        backup = tmp_path / "backup"
        code, output = await adx(env_a, "backup", "create", "--out", str(backup))
        assert code == 0, output
        assert "3 S3 objects" in output, output
        manifest = json.loads((backup / "manifest.json").read_text())
        assert manifest["format"] == 2
        assert set(manifest["parts"]) == {"postgres", "temporal", "blobs", "s3"}
        assert manifest["s3"] == in_bucket

        # --- tear stack A down, every object of the bucket deleted
        for resources in opened:
            await resources.close()
        opened.clear()
        await asyncio.to_thread(temporal_a.stop)
        await admin(f'DROP DATABASE "{db_a}" WITH (FORCE)')
        shutil.rmtree(tmp_path / "a")
        await empty_bucket(bucket)

        # --- refused with nothing written: a changed S3 object; a stack with no bucket set
        corrupt = tmp_path / "corrupt"
        shutil.copytree(backup, corrupt)
        assert _flip_a_byte_of_an_object(corrupt / S3_PART) == rows[0].blob_key
        code, output = await adx(env_b, "backup", "restore", "--from", str(corrupt))
        assert code == 1 and "restore refused" in output and "corrupt" in output, output
        no_bucket = stack_env(tmp_path / "b", port_b, db_b)
        code, output = await adx(no_bucket, "backup", "restore", "--from", str(backup))
        assert code == 1 and "ADX_BLOB_S3_" in output, output
        assert not await _database_exists(db_b)
        assert not (tmp_path / "b").exists()
        assert await bucket_objects(bucket) == {}

        # --- restore into a fresh stack and the empty bucket
        code, output = await adx(env_b, "backup", "restore", "--from", str(backup))
        assert code == 0, output
        assert await bucket_objects(bucket) == in_bucket
        # The bucket holds objects now: restoring over it (even with a new database) is refused.
        env_c = {**stack_env(tmp_path / "c", free_port(), db_c), **s3}
        with pytest.raises(BackupError, match=r"bucket .* is not empty"):
            await restore_backup(settings_of(env_c), backup)
        assert not await _database_exists(db_c)

        temporal_b = await asyncio.to_thread(
            start_temporal_dev_server,
            tmp_path / "b",
            port_b,
            None,
            echo=False,
            die_with_parent=True,
        )
        settings_b = settings_of(env_b)
        await migrate(settings_b)
        file_b = await Resources.open(settings_b, ServiceName.file)
        opened.append(file_b)
        for file_id, (tenant_id, store, blob_key, digest) in before.items():
            async with transaction(file_b.database, tenant_id) as db:
                record = await db.get(FileRecord, file_id)
            assert record is not None, f"file {file_id} lost"
            assert (record.store, record.blob_key, record.sha256) == (store, blob_key, digest)
            restored = await file_b.blob_store(record.store).get(record.blob_key)
            assert hashlib.sha256(restored).hexdigest() == digest, f"file {file_id}: wrong bytes"
        client_b = await connect_temporal(settings_b)
        described = await client_b.get_workflow_handle(migration_id).describe()
        assert described.status == WorkflowExecutionStatus.COMPLETED
    finally:
        for resources in opened:
            await resources.close()
        await asyncio.to_thread(temporal_a.stop)
        if temporal_b is not None:
            await asyncio.to_thread(temporal_b.stop)
        for name in (db_a, db_b, db_c):
            await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
