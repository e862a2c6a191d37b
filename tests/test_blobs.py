"""LocalBlobStore: round trips, atomic overwrite, and keys that cannot escape the root."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from storage.blobs import BlobNotFoundError, InvalidBlobKeyError, LocalBlobStore


async def test_put_get_delete_round_trip(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    info = await store.put("tenant-a/files/report.pdf", b"%PDF-1.7 data")

    assert info.sha256 == hashlib.sha256(b"%PDF-1.7 data").hexdigest() and info.size == 13
    assert await store.get("tenant-a/files/report.pdf") == b"%PDF-1.7 data"
    await store.put("tenant-a/files/report.pdf", b"v2")
    assert await store.get("tenant-a/files/report.pdf") == b"v2"
    assert [p.name for p in (tmp_path / "tenant-a/files").iterdir()] == ["report.pdf"]

    await store.delete("tenant-a/files/report.pdf")
    assert not await store.exists("tenant-a/files/report.pdf")
    with pytest.raises(BlobNotFoundError):
        await store.get("tenant-a/files/report.pdf")


@pytest.mark.parametrize("key", ["../escape", "a/../../b", "/abs/path", "a//b", "", "a\x00b"])
async def test_keys_cannot_escape_the_root(tmp_path: Path, key: str) -> None:
    store = LocalBlobStore(tmp_path / "root")
    with pytest.raises(InvalidBlobKeyError):
        await store.put(key, b"x")
    assert not (tmp_path / "escape").exists()
