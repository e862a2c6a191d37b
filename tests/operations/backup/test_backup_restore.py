"""Back a real stack up (its own Temporal dev server file, database, blob dir, Redis prefix),
tear it down, restore into a fresh one: every user, tenant and file is there (bytes by SHA-256),
RLS and the app role's grants hold, and the workflows waiting on a timer and on a signal
complete after the restore. A corrupt copy of the same backup is refused with nothing written."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker

from services.auth.runtime import runtime_for
from services.common.backup import BackupError, restore_backup
from services.common.resources import Resources
from services.common.settings import ServiceName
from services.common.temporal import connect_temporal
from services.devstack.ports import accepts_connections, free_port
from services.devstack.temporal import start_temporal_dev_server
from storage.auth.models import Credential
from storage.blobs import TenantBlobs
from storage.db import transaction
from storage.files.models import FileRecord
from storage.migrate import migrate
from storage.tenants.models import Tenant
from tests.auth.users import create_user
from tests.operations.backup.stacks import admin, adx, in_db, settings_of, stack_env
from tests.operations.backup.waiting import SignalWait, TimerWait
from tests.support import RUN_ID
from tests.tenant.billing.tenants import new_tenant

TIMER_SECONDS = 20


async def _events(client: Client, workflow_id: str) -> list[int]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [event.event_type for event in history.events]


async def _wait_for_event(client: Client, workflow_id: str, event: int) -> None:
    for _ in range(300):
        if event in await _events(client, workflow_id):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id}: no event {event}")


def _digests(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file()
    }


POLICIES = "SELECT count(*) FROM pg_policies"
RLS_TABLES = "SELECT count(*) FROM pg_class WHERE relrowsecurity AND relforcerowsecurity"
APP_GRANTS = "SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = 'adx_app'"


@pytest.mark.skipif(
    not accepts_connections("127.0.0.1", 5432) or not accepts_connections("127.0.0.1", 6379),
    reason="needs the machine's PostgreSQL (5432) and Redis (6379)",
)
async def test_restore_into_a_fresh_stack_keeps_data_and_waiting_workflows(
    tmp_path: Path,
) -> None:
    db_a, db_b = f"adx_backup_a_{RUN_ID}", f"adx_backup_b_{RUN_ID}"
    port_a = free_port()
    env_a = stack_env(tmp_path / "a", port_a, db_a)
    settings_a = settings_of(env_a)
    queue = f"backup-test-{RUN_ID}"
    temporal_a = await asyncio.to_thread(
        start_temporal_dev_server, tmp_path / "a", port_a, None, echo=False, die_with_parent=True
    )
    temporal_b = None
    opened: list[Resources] = []
    try:
        # --- the original stack: a tenant, a user with a claim in it, a file, two waiting runs
        await migrate(settings_a)
        auth = await Resources.open(settings_a, ServiceName.auth)
        tenant_res = await Resources.open(settings_a, ServiceName.tenant)
        file_res = await Resources.open(settings_a, ServiceName.file)
        opened += [auth, tenant_res, file_res]
        tenant_id = await new_tenant(tenant_res, "Backup Co")
        user = await create_user(runtime_for(auth), tenant_roles={tenant_id: ["admin"]})
        content = os.urandom(300_000)
        file_id = uuid.uuid4()
        key = f"files/{file_id}"
        await TenantBlobs(file_res.blobs, tenant_id).put(key, content)
        async with transaction(file_res.database, tenant_id) as db:
            db.add(
                FileRecord(
                    id=file_id,
                    tenant_id=tenant_id,
                    name="report.bin",
                    blob_key=TenantBlobs(file_res.blobs, tenant_id).key(key),
                    size=len(content),
                    sha256=hashlib.sha256(content).hexdigest(),
                    owner_id=user.id,
                    status="ready",
                )
            )
        client_a = await connect_temporal(settings_a)
        timer_id, signal_id = f"backup-timer-{RUN_ID}", f"backup-signal-{RUN_ID}"
        async with Worker(client_a, task_queue=queue, workflows=[TimerWait, SignalWait]):
            await client_a.start_workflow(
                TimerWait.run, float(TIMER_SECONDS), id=timer_id, task_queue=queue
            )
            await client_a.start_workflow(SignalWait.run, id=signal_id, task_queue=queue)
            await _wait_for_event(client_a, timer_id, EventType.EVENT_TYPE_TIMER_STARTED)
            await _wait_for_event(client_a, signal_id, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
        policies = await in_db(db_a, POLICIES)
        rls_tables = await in_db(db_a, RLS_TABLES)
        grants = await in_db(db_a, APP_GRANTS)
        assert policies and rls_tables and grants

        # --- back up, then tear the original stack down (database, Temporal, data dir)
        backup = tmp_path / "backup"
        keys_a = _digests(tmp_path / "a" / "keys")
        assert keys_a  # the development keys the auth runtime generated
        code, output = await adx(env_a, "backup", "create", "--out", str(backup), "--with-dev-keys")
        assert code == 0, output
        manifest = json.loads((backup / "manifest.json").read_text())
        assert set(manifest["parts"]) == {"postgres", "temporal", "blobs", "keys"}
        assert list(manifest["blobs"].values()) == [hashlib.sha256(content).hexdigest()]
        assert EventType.EVENT_TYPE_TIMER_FIRED not in await _events(client_a, timer_id)
        for resources in opened:
            await resources.close()
        opened.clear()
        await asyncio.to_thread(temporal_a.stop)
        await admin(f'DROP DATABASE "{db_a}" WITH (FORCE)')
        shutil.rmtree(tmp_path / "a")

        # --- a corrupt copy (one changed byte) is refused, nothing written
        port_b = free_port()
        env_b = stack_env(tmp_path / "b", port_b, db_b)
        settings_b = settings_of(env_b)
        corrupt = tmp_path / "corrupt"
        shutil.copytree(backup, corrupt)
        dump = bytearray((corrupt / "postgres.dump").read_bytes())
        dump[len(dump) // 2] ^= 0xFF
        (corrupt / "postgres.dump").write_bytes(bytes(dump))
        code, output = await adx(env_b, "backup", "restore", "--from", str(corrupt))
        assert code == 1 and "restore refused" in output and "corrupt" in output, output
        assert not await admin(f"SELECT 1 FROM pg_database WHERE datname = '{db_b}'")
        assert not (tmp_path / "b").exists()

        # --- restore into a fresh stack: new data dir, new database, new Temporal server
        code, output = await adx(env_b, "backup", "restore", "--from", str(backup))
        assert code == 0, output
        # The target now holds data: a second restore over it is refused.
        with pytest.raises(BackupError, match="not empty"):
            await restore_backup(settings_b, backup, temporal=False)
        temporal_b = await asyncio.to_thread(
            start_temporal_dev_server,
            tmp_path / "b",
            port_b,
            None,
            echo=False,
            die_with_parent=True,
        )
        await migrate(settings_b)  # up to date: nothing to apply, grants re-asserted
        assert _digests(tmp_path / "b" / "keys") == keys_a
        assert await in_db(db_b, POLICIES) == policies
        assert await in_db(db_b, RLS_TABLES) == rls_tables
        assert await in_db(db_b, APP_GRANTS) == grants

        auth = await Resources.open(settings_b, ServiceName.auth)
        tenant_res = await Resources.open(settings_b, ServiceName.tenant)
        file_res = await Resources.open(settings_b, ServiceName.file)
        opened += [auth, tenant_res, file_res]
        async with transaction(auth.database) as db:
            credential = await db.get(Credential, user.id)
            assert credential is not None and credential.email == user.email
        async with transaction(tenant_res.database, tenant_id) as db:
            tenant = await db.get(Tenant, tenant_id)
            assert tenant is not None and tenant.name == "Backup Co"
        async with transaction(file_res.database, tenant_id) as db:
            record = await db.get(FileRecord, file_id)
            assert record is not None
            blob_key, digest = record.blob_key, record.sha256
        restored = await file_res.blobs.get(blob_key)
        assert hashlib.sha256(restored).hexdigest() == digest == hashlib.sha256(content).hexdigest()
        async with transaction(file_res.database, uuid.uuid4()) as db:  # RLS: another tenant
            assert await db.get(FileRecord, file_id) is None

        client_b = await connect_temporal(settings_b)
        async with Worker(client_b, task_queue=queue, workflows=[TimerWait, SignalWait]):
            await client_b.get_workflow_handle(signal_id).signal(SignalWait.release, "after")
            signal_result = await client_b.get_workflow_handle(signal_id).result()
            timer_result = await client_b.get_workflow_handle(timer_id).result()
        assert signal_result == "released:after"
        assert timer_result == "fired"
        assert EventType.EVENT_TYPE_TIMER_FIRED in await _events(client_b, timer_id)
    finally:
        for resources in opened:
            await resources.close()
        await asyncio.to_thread(temporal_a.stop)
        if temporal_b is not None:
            await asyncio.to_thread(temporal_b.stop)
        for name in (db_a, db_b):
            await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
