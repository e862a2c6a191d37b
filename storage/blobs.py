"""Blob storage: the ``BlobStore`` interface, its local-filesystem implementation and the
tenant-scoped view every tenant-facing caller goes through (the S3 store: ``storage.s3_blobs``)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,511}$")
#: Chunks handed out by ``BlobStore.stream``.
DEFAULT_CHUNK_SIZE = 1024 * 1024
#: Chunks hashed on the event loop; larger ones go to a thread (hashlib releases the GIL).
_HASH_INLINE_LIMIT = 64 * 1024


class BlobNotFoundError(KeyError):
    pass


class InvalidBlobKeyError(ValueError):
    pass


class BlobStoreError(RuntimeError):
    """The backend failed (unreachable, denied, missing bucket): an infrastructure error, worth
    a retry, never the caller's fault."""


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    sha256: str


def check_key(key: str) -> str:
    """Keys are relative, slash-separated and may not climb out of the store."""
    if not _KEY.match(key) or ".." in key.split("/") or "//" in key:
        raise InvalidBlobKeyError(f"invalid blob key: {key!r}")
    return key


async def hash_chunk(hasher: hashlib._Hash, chunk: bytes) -> None:
    """``hasher.update(chunk)`` without holding the event loop for a large chunk."""
    if len(chunk) <= _HASH_INLINE_LIMIT:
        hasher.update(chunk)
    else:
        await asyncio.to_thread(hasher.update, chunk)


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


class BlobStore(ABC):
    """Keys are checked with ``check_key``; a missing blob raises ``BlobNotFoundError``."""

    @abstractmethod
    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> BlobInfo:
        """Store the concatenated chunks under ``key``, all or nothing: if ``chunks`` raises
        (or the call is cancelled) no object, and no partial object, is left under ``key``."""

    async def put(self, key: str, data: bytes) -> BlobInfo:
        return await self.put_stream(key, _one_chunk(data))

    @abstractmethod
    def stream(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The blob's bytes in chunks; raises ``BlobNotFoundError`` on the first iteration."""

    async def get(self, key: str) -> bytes:
        return b"".join([chunk async for chunk in self.stream(key)])

    async def stream_range(
        self, key: str, start: int, length: int, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        """``length`` bytes of the blob from offset ``start`` (an HTTP Range answer); fewer if
        the blob ends first. This default reads and drops the bytes before ``start``; the
        stores override it with a seek (local) or a ranged GET (S3)."""
        skip, left = start, length
        async for chunk in self.stream(key, chunk_size):
            if skip >= len(chunk):
                skip -= len(chunk)
                continue
            piece = chunk[skip : skip + left]
            skip = 0
            left -= len(piece)
            yield piece
            if left <= 0:
                return

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove ``key``; deleting a missing blob is not an error."""

    @abstractmethod
    async def exists(self, key: str) -> bool: ...

    async def close(self) -> None:  # noqa: B027 - optional hook; stores without connections keep it
        """Release the store's connections (the process is stopping)."""


class TenantBlobs:
    """One tenant's view of a store: its keys live under ``tenants/<tenant_id>/`` and, being
    checked relative keys, cannot name anything outside that prefix (another tenant's blobs)."""

    def __init__(self, store: BlobStore, tenant_id: uuid.UUID) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.prefix = f"tenants/{tenant_id}/"

    def key(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def put(self, key: str, data: bytes) -> BlobInfo:
        return await self.store.put(self.key(key), data)

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> BlobInfo:
        return await self.store.put_stream(self.key(key), chunks)

    async def get(self, key: str) -> bytes:
        return await self.store.get(self.key(key))

    def stream(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        return self.store.stream(self.key(key), chunk_size)

    async def delete(self, key: str) -> None:
        await self.store.delete(self.key(key))

    async def exists(self, key: str) -> bool:
        return await self.store.exists(self.key(key))


class LocalBlobStore(BlobStore):
    """Blobs as files under ``root``; writes are atomic (temp file + rename), I/O off the loop."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes) -> BlobInfo:
        path = self._path(key)

        def write() -> str:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = _temp_path(path)
            try:
                tmp.write_bytes(data)
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
            return hashlib.sha256(data).hexdigest()

        sha256 = await asyncio.to_thread(write)
        return BlobInfo(key=key, size=len(data), sha256=sha256)

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> BlobInfo:
        path = self._path(key)
        tmp = _temp_path(path)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        file = await asyncio.to_thread(tmp.open, "wb")
        hasher, size = hashlib.sha256(), 0
        try:
            async for chunk in chunks:
                await asyncio.to_thread(file.write, chunk)
                await hash_chunk(hasher, chunk)
                size += len(chunk)
            await asyncio.to_thread(_commit, file, tmp, path)
        except BaseException:
            # Shielded: a second cancellation must not leave the temp file behind.
            await asyncio.shield(asyncio.to_thread(_discard, file, tmp))
            raise
        return BlobInfo(key=key, size=size, sha256=hasher.hexdigest())

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as error:
            raise BlobNotFoundError(key) from error

    async def stream(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            file = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError as error:
            raise BlobNotFoundError(key) from error
        try:
            while chunk := await asyncio.to_thread(file.read, chunk_size):
                yield chunk
        finally:
            await asyncio.to_thread(file.close)

    async def stream_range(
        self, key: str, start: int, length: int, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            file = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError as error:
            raise BlobNotFoundError(key) from error
        try:
            await asyncio.to_thread(file.seek, start)
            left = length
            while left > 0 and (chunk := await asyncio.to_thread(file.read, min(chunk_size, left))):
                left -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(file.close)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)


def _temp_path(path: Path) -> Path:
    """A sibling temp name that no concurrent writer of the same key uses."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")


def _commit(file: IO[bytes], tmp: Path, path: Path) -> None:
    file.close()
    os.replace(tmp, path)


def _discard(file: IO[bytes], tmp: Path) -> None:
    file.close()
    tmp.unlink(missing_ok=True)
