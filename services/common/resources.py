"""Process-wide resources (database, Redis, Temporal client, blobs), built once and shared by
the HTTP app and the worker of a dual-mode process."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from services.common.settings import SERVICE_SCHEMAS, ServiceName, Settings
from services.common.temporal import connect_temporal
from services.common.tracing import configure_tracing, instrument_engine
from storage.blobs import BlobStore, BlobStoreError, LocalBlobStore
from storage.db import create_engine, session_factory
from storage.redis import RedisKeys, create_redis
from storage.s3_blobs import MIB, S3BlobStore, S3Config


@dataclass
class Resources:
    settings: Settings
    service: ServiceName
    temporal: Client
    redis: Redis
    redis_keys: RedisKeys
    blobs: BlobStore
    engine: AsyncEngine | None = None
    #: Every store the process can reach, by name (``local``; ``s3`` once a bucket is set), the
    #: default (``blobs``) among them: a file row names the one holding its bytes.
    blob_stores: dict[str, BlobStore] = field(default_factory=dict)
    _database: async_sessionmaker[AsyncSession] | None = field(default=None, repr=False)
    #: Objects a service builds once over these resources (e.g. the auth runtime). Not copied by
    #: ``dataclasses.replace``: a copy under other settings builds its own.
    extensions: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def database(self) -> async_sessionmaker[AsyncSession]:
        if self._database is None:
            raise RuntimeError(f"the {self.service} process has no database")
        return self._database

    def blob_store(self, name: str | None) -> BlobStore:
        """The store named ``name`` (a file row's ``store``); None: the default one."""
        if name is None or name == self.settings.blob_backend:
            return self.blobs
        store = self.blob_stores.get(name)
        if store is None:
            raise BlobStoreError(f"this process has no blob store named {name!r}")
        return store

    @classmethod
    async def open(cls, settings: Settings, service: ServiceName) -> Resources:
        configure_tracing(settings, service.value)  # before the client: it takes the interceptor
        temporal = await connect_temporal(settings)
        engine = None
        if service in SERVICE_SCHEMAS:
            engine = create_engine(
                settings.app_database_url(service),
                pool_size=settings.database_pool_size,
                application_name=f"adx-{service.value}",
            )
            instrument_engine(engine)
        stores: dict[str, BlobStore] = {"local": LocalBlobStore(settings.blob_root())}
        if settings.blob_s3_bucket:  # one S3 client (connection pool) per process
            stores["s3"] = await S3BlobStore.open(s3_config(settings))
        blobs = stores[settings.blob_backend]
        return cls(
            settings=settings,
            service=service,
            temporal=temporal,
            redis=create_redis(settings.redis_url),
            redis_keys=RedisKeys(settings.redis_prefix),
            blobs=blobs,
            engine=engine,
            blob_stores=stores,
            _database=session_factory(engine) if engine else None,
        )

    async def close(self) -> None:
        await self.redis.aclose()
        await self.blobs.close()
        for store in self.blob_stores.values():
            if store is not self.blobs:
                await store.close()
        if self.engine is not None:
            await self.engine.dispose()


def s3_config(settings: Settings) -> S3Config:
    """The S3 blob store's configuration from ``ADX_BLOB_S3_*``."""
    if not settings.blob_s3_bucket:
        raise ValueError("ADX_BLOB_S3_BUCKET is required when ADX_BLOB_BACKEND=s3")
    secret = settings.blob_s3_secret_access_key
    return S3Config(
        bucket=settings.blob_s3_bucket,
        endpoint_url=settings.blob_s3_endpoint_url,
        region=settings.blob_s3_region,
        access_key_id=settings.blob_s3_access_key_id,
        secret_access_key=secret.get_secret_value() if secret else None,
        path_style=settings.blob_s3_path_style,
        multipart_threshold=settings.blob_s3_multipart_threshold_mib * MIB,
        part_size=settings.blob_s3_part_size_mib * MIB,
    )
