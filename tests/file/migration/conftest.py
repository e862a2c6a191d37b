"""Fixtures of the storage migration tests: one S3 client on the session's SeaweedFS, and per
test a file service (app and worker on a fresh queue prefix) holding ``local`` and ``s3``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import Settings
from storage.s3_blobs import S3BlobStore, S3Config
from tests.file.migration.stores import MigrationApi, build, worker


@pytest.fixture(scope="session")
async def s3_blobs(seaweed: S3Config) -> AsyncIterator[S3BlobStore]:
    store = await S3BlobStore.open(seaweed)
    yield store
    await store.close()


@pytest.fixture
def idle_migration_api(
    settings: Settings, file_resources: Resources, auth_runtime: AuthRuntime, s3_blobs: S3BlobStore
) -> MigrationApi:
    """The app only: the test runs (and kills) its workers itself."""
    return build(settings, file_resources, auth_runtime, s3_blobs)


@pytest.fixture
async def migration_api(idle_migration_api: MigrationApi) -> AsyncIterator[MigrationApi]:
    async with worker(idle_migration_api):
        yield idle_migration_api
