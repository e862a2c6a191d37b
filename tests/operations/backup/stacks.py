"""Helpers of the backup tests: a stack's environment (its own data dir, database, Redis prefix
and Temporal dev server port), ``adx`` run as an operator runs it, and SQL on the machine's
PostgreSQL; buckets on the session's SeaweedFS."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from services.common.settings import Settings
from storage.s3_blobs import S3BlobStore, S3Config
from tests.support import ROOT, RUN_ID, TEST_PAYLOAD_KEYS

SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def environ(env: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def stack_env(data_dir: Path, temporal_port: int, database: str) -> dict[str, str]:
    return {
        "ADX_ENV": "test",
        "ADX_LOG_JSON": "false",
        "ADX_DATA_DIR": str(data_dir),
        "ADX_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "ADX_TEMPORAL_NAMESPACE": "adx-development",
        "ADX_DATABASE_URL": make_url(SERVER).set(database=database).render_as_string(False),
        "ADX_REDIS_URL": "redis://127.0.0.1:6379/0",
        "ADX_REDIS_PREFIX": f"adxbackup-{database}",
        "ADX_TASK_QUEUE_PREFIX": f"b{RUN_ID}",
        "ADX_PAYLOAD_KEYS": TEST_PAYLOAD_KEYS,
        "ADX_BLOB_BACKEND": "local",
    }


def settings_of(env: dict[str, str]) -> Settings:
    with environ(env):
        return Settings()


async def adx(env: dict[str, str], *args: str) -> tuple[int, str]:
    """``adx <args>`` (services/cli.py) as an operator runs it, in the stack's environment."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        *args,
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace")


async def in_db(database: str, sql: str) -> object:
    conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database=database)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def admin(sql: str) -> object:
    return await in_db("postgres", sql)


def s3_env(seaweed: S3Config, bucket: str) -> dict[str, str]:
    """``ADX_BLOB_S3_*`` for ``bucket`` on the session's SeaweedFS (5 MiB parts: multipart)."""
    return {
        "ADX_BLOB_S3_BUCKET": bucket,
        "ADX_BLOB_S3_ENDPOINT_URL": str(seaweed.endpoint_url),
        "ADX_BLOB_S3_ACCESS_KEY_ID": str(seaweed.access_key_id),
        "ADX_BLOB_S3_SECRET_ACCESS_KEY": str(seaweed.secret_access_key),
        "ADX_BLOB_S3_PATH_STYLE": "true",
        "ADX_BLOB_S3_MULTIPART_THRESHOLD_MIB": "5",
        "ADX_BLOB_S3_PART_SIZE_MIB": "5",
    }


async def bucket_objects(store: S3BlobStore) -> dict[str, str]:
    """Every object of the store's bucket: its SHA-256 by key (read past the services)."""
    found: dict[str, str] = {}
    async for page in store.client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket):
        for item in page.get("Contents", []):
            found[item["Key"]] = hashlib.sha256(await store.get(item["Key"])).hexdigest()
    return found


async def empty_bucket(store: S3BlobStore) -> None:
    for key in await bucket_objects(store):
        await store.delete(key)
