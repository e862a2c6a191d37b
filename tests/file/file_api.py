"""Helpers of the file tests: the file service in process (its app and its worker on a task-queue
prefix of their own, over the session's real PostgreSQL, Redis and Temporal), callers with
access tokens minted by the auth runtime's issuer, and a clamd of the project's own."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import Settings
from services.common.tokens import publish_jwks
from services.devstack.clamav import EICAR_MARKER
from services.file.service import SPEC
from storage.db import transaction
from storage.files.models import FileRecord
from storage.files.repository import StoragePolicyRepository
from tests.in_process import in_process_client
from tests.workers import running_workers
from workflows.tenant.permissions import Permission

#: The EICAR test file (assembled here so no file of the repository is itself "infected").
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + EICAR_MARKER + b"!$H+H*"
READ_WRITE = (Permission.FILES_READ.value, Permission.FILES_WRITE.value)
FINAL = {"ready", "quarantined", "rejected"}


@dataclass
class Caller:
    tenant_id: uuid.UUID
    user_id: uuid.UUID


@dataclass
class FileApi:
    app: FastAPI
    runtime: AuthRuntime
    resources: Resources

    @property
    def settings(self) -> Settings:
        return self.resources.settings

    def caller(self, tenant_id: uuid.UUID | None = None) -> Caller:
        return Caller(tenant_id or uuid.uuid4(), uuid.uuid4())

    def token(self, caller: Caller, permissions: tuple[str, ...] = READ_WRITE) -> str:
        return self.runtime.issuer.access_token(
            user_id=str(caller.user_id),
            session_id=str(uuid.uuid4()),
            tenant_id=str(caller.tenant_id),
            roles=["member"],
            auth_methods=["pwd"],
            permissions=permissions,
        )

    async def publish_keys(self) -> None:
        """The JWKS the file service reads from Redis (stale after five minutes: refreshed)."""
        await publish_jwks(
            self.resources.redis, self.resources.redis_keys, "file-tests", self.runtime.keys.jwks()
        )

    @asynccontextmanager
    async def client(
        self, caller: Caller | None, permissions: tuple[str, ...] = READ_WRITE
    ) -> AsyncIterator[httpx.AsyncClient]:
        await self.publish_keys()
        async with in_process_client(self.app, base_url="http://file") as client:
            if caller is not None:
                client.headers["authorization"] = f"Bearer {self.token(caller, permissions)}"
            yield client

    async def row(self, tenant_id: uuid.UUID, file_id: str | uuid.UUID) -> FileRecord | None:
        async with transaction(self.resources.database, tenant_id) as db:
            return await db.get(FileRecord, uuid.UUID(str(file_id)))

    async def rows(self, tenant_id: uuid.UUID) -> list[FileRecord]:
        from sqlalchemy import select

        async with transaction(self.resources.database, tenant_id) as db:
            return list(await db.scalars(select(FileRecord)))

    async def set_policy(
        self, tenant_id: uuid.UUID, quota: int, allowed: list[str] | None = None
    ) -> None:
        async with transaction(self.resources.database, tenant_id) as db:
            await StoragePolicyRepository(db, tenant_id).put(quota, allowed)

    def blob_files(self, tenant_id: uuid.UUID) -> list[Path]:
        """Every file (temp files too) the local blob store holds for the tenant."""
        root = self.settings.blob_root() / "tenants" / str(tenant_id)
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []

    async def upload(
        self, client: httpx.AsyncClient, name: str, data: bytes, folder: str = "/"
    ) -> httpx.Response:
        return await client.post(
            "/files",
            params={"name": name, "folder": folder},
            content=data,
            headers={"content-type": "application/octet-stream"},
        )

    async def settled(
        self, client: httpx.AsyncClient, file_id: str, timeout: float = 60.0
    ) -> dict[str, Any]:
        """The file once its run has ended (ready, quarantined or rejected)."""
        deadline = time.monotonic() + timeout
        while True:
            answer = await client.get(f"/files/{file_id}")
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            if body["status"] in FINAL:
                return body
            assert time.monotonic() < deadline, f"file still {body['status']}"
            await asyncio.sleep(0.2)


@asynccontextmanager
async def file_service(
    settings: Settings,
    file_resources: Resources,
    runtime: AuthRuntime,
    clamd_address: str | None,
    replace: dict[str, Any] | None = None,
) -> AsyncIterator[FileApi]:
    """The file app and worker on a fresh task-queue prefix, scanning with ``clamd_address``;
    ``replace``: stand-in activities by name (``tests/workers.py``)."""
    prefix = f"fw{uuid.uuid4().hex[:8]}"
    local = settings.model_copy(
        update={"task_queue_prefix": prefix, "file_clamd_address": clamd_address}
    )
    resources = dataclasses.replace(file_resources, settings=local)
    async with running_workers(local, [(SPEC, resources)], prefix, replace):
        yield FileApi(SPEC.build_app(resources), runtime, resources)


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """``app`` behind a real uvicorn on a free loopback port (for clients that speak HTTP
    themselves, such as tuspy); yields its base URL."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 10)
        finally:
            sock.close()
