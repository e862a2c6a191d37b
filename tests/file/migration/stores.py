"""Helpers of the storage migration tests: the file service in process with two blob stores
(the session's local one and the session's SeaweedFS as ``s3``), each wrapped to count the
copies written to it and, on demand, to hold a copy until the test lets it go; files seeded as
ready rows with their blobs; the admin's token."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import uuid
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import Settings
from services.file.service import SPEC
from services.file.uploads.intake import blob_key
from storage.blobs import DEFAULT_CHUNK_SIZE, BlobInfo, BlobStore
from storage.db import transaction
from storage.files.models import FileRecord, FileStatus, ScanVerdict
from storage.files.repository import FileRepository
from tests.file.file_api import FileApi
from tests.workers import running_workers
from workflows.tenant.permissions import Permission

ADMIN = (Permission.FILES_READ.value, Permission.FILES_WRITE.value, Permission.TENANT_MANAGE.value)
MIB = 1024 * 1024


class CountingStore(BlobStore):
    """A store as it is, counting the copies completed per key; with ``hold_after`` set, the
    copy after that many waits (``holding`` set) until ``release`` is set."""

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner
        self.copies: Counter[str] = Counter()
        self.hold_after: int | None = None
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> BlobInfo:
        if self.hold_after is not None and sum(self.copies.values()) >= self.hold_after:
            self.holding.set()
            await self.release.wait()
        info = await self.inner.put_stream(key, chunks)
        self.copies[key] += 1
        return info

    def stream(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        return self.inner.stream(key, chunk_size)

    def stream_range(
        self, key: str, start: int, length: int, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        return self.inner.stream_range(key, start, length, chunk_size)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def exists(self, key: str) -> bool:
        return await self.inner.exists(key)


@dataclass
class MigrationApi(FileApi):
    local: CountingStore = dataclasses.field(default=None)  # type: ignore[assignment]
    s3: CountingStore = dataclasses.field(default=None)  # type: ignore[assignment]
    prefix: str = ""

    async def seed(
        self, tenant_id: uuid.UUID, data: bytes, *, sha256: str | None = None, name: str = "f.bin"
    ) -> FileRecord:
        """A ready file of ``data`` in the local store (``store`` NULL, as rows from before
        files_0006); ``sha256`` to record a wrong checksum."""
        file_id = uuid.uuid4()
        key = blob_key(tenant_id, file_id)
        await self.local.inner.put(key, data)
        row = FileRecord(
            id=file_id,
            name=name,
            folder="/",
            blob_key=key,
            size=len(data),
            sha256=sha256 or hashlib.sha256(data).hexdigest(),
            content_type="application/octet-stream",
            status=FileStatus.READY.value,
            scan_verdict=ScanVerdict.NOT_SCANNED.value,
            version=1,
        )
        async with transaction(self.resources.database, tenant_id) as db:
            await FileRepository(db, tenant_id).add(row)
        return row


def body(size: int, seed: int) -> bytes:
    """``size`` deterministic bytes that differ per ``seed``."""
    block = hashlib.sha512(seed.to_bytes(8, "big")).digest() * (MIB // 64)
    return (block * (size // len(block) + 1))[:size]


def build(
    settings: Settings, file_resources: Resources, runtime: AuthRuntime, s3: BlobStore
) -> MigrationApi:
    prefix = f"fm{uuid.uuid4().hex[:8]}"
    local = settings.model_copy(update={"task_queue_prefix": prefix, "file_clamd_address": None})
    local_store, s3_store = CountingStore(file_resources.blobs), CountingStore(s3)
    resources = dataclasses.replace(
        file_resources,
        settings=local,
        blobs=local_store,
        blob_stores={"local": local_store, "s3": s3_store},
    )
    return MigrationApi(
        SPEC.build_app(resources), runtime, resources, local=local_store, s3=s3_store, prefix=prefix
    )


@asynccontextmanager
async def worker(api: MigrationApi) -> AsyncIterator[None]:
    async with running_workers(api.settings, [(SPEC, api.resources)], api.prefix):
        yield
