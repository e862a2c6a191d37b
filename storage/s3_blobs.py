"""``S3BlobStore``: the ``BlobStore`` interface over any S3-compatible service (AWS S3, SeaweedFS,
MinIO) with aiobotocore: one client per process, multipart uploads for large bodies (aborted on
failure, so no partial object or orphan upload remains), streamed downloads."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError
from structlog.stdlib import get_logger

from storage.blobs import (
    DEFAULT_CHUNK_SIZE,
    BlobInfo,
    BlobNotFoundError,
    BlobStore,
    BlobStoreError,
    check_key,
    hash_chunk,
)

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = get_logger(__name__)
MIB = 1024 * 1024
_NOT_FOUND = {"NoSuchKey", "NotFound", "404"}


@dataclass(frozen=True)
class S3Config:
    bucket: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    path_style: bool = False
    multipart_threshold: int = 16 * MIB
    part_size: int = 8 * MIB
    #: Attempts per request (botocore "standard" retries: throttling, 5xx, connection errors).
    max_attempts: int = 3


class S3BlobStore(BlobStore):
    """Blobs as objects in one bucket, the object key being the checked blob key.

    Build it with ``await S3BlobStore.open(config)`` and ``await close()`` it: the client holds
    a connection pool. Bodies up to ``multipart_threshold`` go up in one ``PutObject``; larger
    ones in ``part_size`` parts. Memory: the threshold or one part, plus one incoming chunk.
    """

    def __init__(self, client: S3Client, config: S3Config, exit_stack: AsyncExitStack) -> None:
        self.client = client
        self.config = config
        self.bucket = config.bucket
        self._exit_stack = exit_stack

    @classmethod
    async def open(cls, config: S3Config) -> S3BlobStore:
        client_config = AioConfig(
            region_name=config.region,
            s3={"addressing_style": "path" if config.path_style else "auto"},
            retries={"mode": "standard", "max_attempts": config.max_attempts},
            # botocore reads its JSON service models from disk: do it in a thread.
            warm_up_loader_caches=True,
        )
        stack = AsyncExitStack()
        client = await stack.enter_async_context(
            get_session().create_client(
                "s3",
                endpoint_url=config.endpoint_url,
                aws_access_key_id=config.access_key_id,
                aws_secret_access_key=config.secret_access_key,
                config=client_config,
            )
        )
        return cls(client, config, stack)

    async def close(self) -> None:
        await self._exit_stack.aclose()

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> BlobInfo:
        check_key(key)
        hasher, size = hashlib.sha256(), 0
        buffer = bytearray()
        upload: _MultipartUpload | None = None
        try:
            async for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                await hash_chunk(hasher, chunk)
                if upload is None and len(buffer) > self.config.multipart_threshold:
                    upload = await _MultipartUpload.start(self, key)
                while upload is not None and len(buffer) >= self.config.part_size:
                    await upload.send(bytes(buffer[: self.config.part_size]))
                    del buffer[: self.config.part_size]
            if upload is None:
                await self._call(
                    "PutObject",
                    key,
                    self.client.put_object,
                    Bucket=self.bucket,
                    Key=key,
                    Body=bytes(buffer),
                )
            else:
                if buffer or not upload.parts:
                    await upload.send(bytes(buffer))
                await upload.complete()
        except BaseException:
            if upload is not None:
                # Shielded: a cancelled upload must still be aborted, or its parts stay billed.
                await asyncio.shield(upload.abort())
            raise
        return BlobInfo(key=key, size=size, sha256=hasher.hexdigest())

    async def get(self, key: str) -> bytes:
        response = await self._call(
            "GetObject", key, self.client.get_object, Bucket=self.bucket, Key=check_key(key)
        )
        async with response["Body"] as body:
            return await self._call("GetObject", key, body.read)

    async def stream(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        response = await self._call(
            "GetObject", key, self.client.get_object, Bucket=self.bucket, Key=check_key(key)
        )
        async with response["Body"] as body:
            while chunk := await self._call("GetObject", key, body.read, chunk_size):
                yield chunk

    async def stream_range(
        self, key: str, start: int, length: int, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        if length <= 0:
            return
        response = await self._call(
            "GetObject",
            key,
            self.client.get_object,
            Bucket=self.bucket,
            Key=check_key(key),
            Range=f"bytes={start}-{start + length - 1}",
        )
        async with response["Body"] as body:
            while chunk := await self._call("GetObject", key, body.read, chunk_size):
                yield chunk

    async def delete(self, key: str) -> None:
        await self._call(
            "DeleteObject", key, self.client.delete_object, Bucket=self.bucket, Key=check_key(key)
        )

    async def exists(self, key: str) -> bool:
        try:
            await self._call(
                "HeadObject", key, self.client.head_object, Bucket=self.bucket, Key=check_key(key)
            )
        except BlobNotFoundError:
            return False
        return True

    async def _call(
        self, operation: str, key: str, method: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        """Await ``method``; a missing object raises BlobNotFoundError, any other failure of
        the service or the connection BlobStoreError."""
        try:
            return await method(*args, **kwargs)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _NOT_FOUND:
                raise BlobNotFoundError(key) from error
            raise BlobStoreError(f"S3 {operation} {self.bucket}/{key} failed: {code}") from error
        except BotoCoreError as error:
            raise BlobStoreError(f"S3 {operation} {self.bucket}/{key} failed: {error}") from error


class _MultipartUpload:
    """One multipart upload in flight: parts sent so far, then complete or abort."""

    def __init__(self, store: S3BlobStore, key: str, upload_id: str) -> None:
        self.store = store
        self.key = key
        self.upload_id = upload_id
        self.parts: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, store: S3BlobStore, key: str) -> _MultipartUpload:
        response = await store._call(
            "CreateMultipartUpload",
            key,
            store.client.create_multipart_upload,
            Bucket=store.bucket,
            Key=key,
        )
        return cls(store, key, response["UploadId"])

    async def send(self, body: bytes) -> None:
        number = len(self.parts) + 1
        response = await self.store._call(
            "UploadPart",
            self.key,
            self.store.client.upload_part,
            Bucket=self.store.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=body,
        )
        self.parts.append({"PartNumber": number, "ETag": response["ETag"]})

    async def complete(self) -> None:
        await self.store._call(
            "CompleteMultipartUpload",
            self.key,
            self.store.client.complete_multipart_upload,
            Bucket=self.store.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts},  # type: ignore[typeddict-item]
        )

    async def abort(self) -> None:
        """Abort the upload; a failure to abort is logged (the original error matters more)."""
        try:
            await self.store._call(
                "AbortMultipartUpload",
                self.key,
                self.store.client.abort_multipart_upload,
                Bucket=self.store.bucket,
                Key=self.key,
                UploadId=self.upload_id,
            )
        except BlobStoreError as error:
            log.warning(
                "blob.multipart_abort_failed",
                key=self.key,
                upload_id=self.upload_id,
                error=str(error),
            )
