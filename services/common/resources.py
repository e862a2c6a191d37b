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
from storage.blobs import BlobStore, LocalBlobStore
from storage.db import create_engine, session_factory
from storage.redis import Keys, create_redis
from storage.s3_blobs import S3BlobStore, S3Config


@dataclass
class Resources:
    settings: Settings
    service: ServiceName
    temporal: Client
    redis: Redis
    keys: Keys
    blobs: BlobStore
    engine: AsyncEngine | None = None
    _sessions: async_sessionmaker[AsyncSession] | None = field(default=None, repr=False)
    #: Objects a service builds once over these resources (e.g. the auth runtime). Not copied by
    #: ``dataclasses.replace``: a copy under other settings builds its own.
    extensions: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        if self._sessions is None:
            raise RuntimeError(f"the {self.service} process has no database")
        return self._sessions

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
        blobs: BlobStore = LocalBlobStore(settings.blob_root())
        if settings.blob_backend == "s3":  # one S3 client (connection pool) per process
            blobs = await S3BlobStore.open(S3Config.from_settings(settings))
        return cls(
            settings=settings,
            service=service,
            temporal=temporal,
            redis=create_redis(settings.redis_url),
            keys=Keys(settings.redis_prefix),
            blobs=blobs,
            engine=engine,
            _sessions=session_factory(engine) if engine else None,
        )

    async def close(self) -> None:
        await self.redis.aclose()
        await self.blobs.close()
        if self.engine is not None:
            await self.engine.dispose()
