"""Blob storage: a ``BlobStore`` interface and its local-filesystem implementation."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,511}$")


class BlobNotFoundError(KeyError):
    pass


class InvalidBlobKeyError(ValueError):
    pass


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


class BlobStore(ABC):
    @abstractmethod
    async def put(self, key: str, data: bytes) -> BlobInfo: ...

    @abstractmethod
    async def get(self, key: str) -> bytes: ...

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    @abstractmethod
    async def exists(self, key: str) -> bool: ...


class LocalBlobStore(BlobStore):
    """Blobs as files under ``root``; writes are atomic (temp file + rename), I/O off the loop."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes) -> BlobInfo:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)

        await asyncio.to_thread(write)
        return BlobInfo(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest())

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as error:
            raise BlobNotFoundError(key) from error

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)
