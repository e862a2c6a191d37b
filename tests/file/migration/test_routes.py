"""``POST /storage/migrations`` refuses with a 4xx problem+json, starting nothing: hostile bodies,
a caller without ``tenant.manage`` or without an active tenant, a store the file service does
not hold; and a run acts on the caller's tenant only (its activities refuse another one)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from tests.file.file_api import READ_WRITE, FileApi
from tests.file.migration.stores import ADMIN, MigrationApi
from workflows.file.file_migration import file_migration_workflow_id

DEEP: Any = "s3"
for _ in range(200):
    DEEP = [DEEP]
HOSTILE: list[Any] = [
    {"target": "ftp"},
    {"target": "s3" * 500_000},
    {"target": "s3", "source": "../../etc"},
    {"target": "s3", "batch_size": 0},
    {"target": "s3", "batch_size": 2**63},
    {"target": "s3", "batch_size": "ten"},
    {"target": "s3", "tenant_id": "another-tenant"},
    {"target": "local"},  # the files are local already
    {"target": "s3", "source": "s3"},
    {"target": ["s3"]},
    {"target": {"nested": DEEP}},
    {},
    [],
    "s3",
]


def _problem(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


async def _not_started(temporal: Client, tenant: Any) -> None:
    with pytest.raises(RPCError):
        await temporal.get_workflow_handle(file_migration_workflow_id(str(tenant))).describe()


@pytest.mark.parametrize("body", HOSTILE, ids=lambda b: json.dumps(b)[:40])
async def test_hostile_bodies_are_422_and_start_nothing(
    idle_migration_api: MigrationApi, temporal: Client, body: Any
) -> None:
    api = idle_migration_api
    admin = api.caller()
    async with api.client(admin, ADMIN) as client:
        answer = await client.post("/storage/migrations", json=body)
    # Nested past the app's limit: 400 malformed-body before any route; else the route's 422.
    _problem(answer, 400 if body == {"target": {"nested": DEEP}} else 422)
    await _not_started(temporal, admin.tenant_id)


async def test_a_body_that_is_not_json_is_a_4xx(idle_migration_api: MigrationApi) -> None:
    async with idle_migration_api.client(idle_migration_api.caller(), ADMIN) as client:
        for content in (b"\xff\xfe", b'{"target": "s3"', b"x" * 2_000_000):
            answer = await client.post(
                "/storage/migrations", content=content, headers={"content-type": "application/json"}
            )
            assert 400 <= answer.status_code < 500, answer.text


@pytest.mark.parametrize("permissions", [READ_WRITE, ("tenant.manage", "files.read")])
async def test_without_tenant_manage_and_files_write_it_is_403(
    idle_migration_api: MigrationApi, temporal: Client, permissions: tuple[str, ...]
) -> None:
    member = idle_migration_api.caller()
    async with idle_migration_api.client(member, permissions) as client:
        answer = await client.post("/storage/migrations", json={"target": "s3"})
    _problem(answer, 403)
    await _not_started(temporal, member.tenant_id)


async def test_a_store_the_service_does_not_hold_is_422(file_api: FileApi) -> None:
    """The session's plain file service has no S3 bucket configured."""
    caller = file_api.caller()
    async with file_api.client(caller, ADMIN) as client:
        answer = await client.post("/storage/migrations", json={"target": "s3"})
    _problem(answer, 422)
    assert "no s3 store" in answer.json()["detail"]


async def test_anonymous_is_401(idle_migration_api: MigrationApi) -> None:
    async with idle_migration_api.client(None) as client:
        answer = await client.post("/storage/migrations", json={"target": "s3"})
    assert answer.status_code == 401


async def test_a_run_never_touches_another_tenants_files(migration_api: MigrationApi) -> None:
    api = migration_api
    a, b = api.caller(), api.caller()
    a_row = await api.seed(a.tenant_id, b"tenant A's bytes")
    b_row = await api.seed(b.tenant_id, b"tenant B's bytes")
    async with api.client(b, ADMIN) as client:
        answer = await client.post("/storage/migrations", json={"target": "s3"})
        assert answer.status_code == 202, answer.text
        assert answer.json()["workflow_id"] == file_migration_workflow_id(str(b.tenant_id))
        handle = api.resources.temporal.get_workflow_handle(answer.json()["workflow_id"])
        assert (await handle.result())["report"]["moved_files"] == 1
    assert [r.store for r in await api.rows(a.tenant_id)] == [None]
    assert await api.local.inner.get(a_row.blob_key) == b"tenant A's bytes"
    assert not await api.s3.inner.exists(a_row.blob_key)
    assert [r.store for r in await api.rows(b.tenant_id)] == ["s3"]
    assert await api.s3.inner.get(b_row.blob_key) == b"tenant B's bytes"
