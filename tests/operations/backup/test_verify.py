"""Restore refuses a partial or corrupt backup before it writes anything (no stack needed: the
checks are on the directory alone); format 1 backups (before the S3 part) still verify."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from services.common.backup import (
    BACKUP_PARTS,
    S3_PART,
    BackupError,
    verify_backup,
)

OBJECTS = {"t2/files/x/v1": b"s3 object" * 1000, "t2/files/y/v1": b"y"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _part(directory: Path, file: str, data: bytes) -> dict[str, object]:
    (directory / file).write_bytes(data)
    return {"file": file, "size": len(data), "sha256": _sha(data)}


def _backup(directory: Path, s3: dict[str, bytes] | None = None) -> Path:
    """A backup as format 1 wrote it; with ``s3``, as format 2 does with those objects."""
    directory.mkdir()
    blobs = {"t1/a.bin": b"alpha" * 100, "t1/b.bin": b"beta"}
    contents = {
        "postgres.dump": b"PGDMP" + bytes(range(256)) * 4,
        "temporal.db": b"SQLite format 3\x00" + b"\x01" * 500,
        "blobs.tar": _tar(blobs),
    }
    parts = {name: _part(directory, file, contents[file]) for name, file in BACKUP_PARTS.items()}
    manifest: dict[str, object] = {
        "format": 1,
        "created_at": "2026-12-01T00:00:00+00:00",
        "database": "x",
        "versions": {},
        "parts": parts,
        "blobs": {name: _sha(data) for name, data in blobs.items()},
    }
    if s3 is not None:
        parts["s3"] = _part(directory, S3_PART, _tar(s3))
        manifest.update(format=2, s3={key: _sha(data) for key, data in s3.items()})
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def test_an_intact_backup_verifies(tmp_path: Path) -> None:
    manifest = verify_backup(_backup(tmp_path / "b"))
    assert manifest["format"] == 1  # a backup from before the S3 part
    assert set(manifest["parts"]) == {"postgres", "temporal", "blobs"}
    manifest = verify_backup(_backup(tmp_path / "s3", OBJECTS))
    assert set(manifest["parts"]) == {"postgres", "temporal", "blobs", "s3"}


def test_a_changed_s3_object_is_refused_even_with_a_matching_part_checksum(
    tmp_path: Path,
) -> None:
    """Bit rot in s3.tar is caught by the part's checksum; a tar re-made around a changed
    object (the part's checksum rewritten to match) still fails on the object's own."""
    backup = _backup(tmp_path / "b", OBJECTS)
    intact = (backup / S3_PART).read_bytes()
    rotten = bytearray(intact)
    rotten[len(rotten) // 2] ^= 0x01
    (backup / S3_PART).write_bytes(bytes(rotten))
    with pytest.raises(BackupError, match="corrupt"):
        verify_backup(backup)
    manifest = json.loads((backup / "manifest.json").read_text())
    changed = {**OBJECTS, "t2/files/y/v1": b"z"}
    manifest["parts"]["s3"] = _part(backup, S3_PART, _tar(changed))
    (backup / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="s3 checksums"):
        verify_backup(backup)


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    backup = _backup(tmp_path / "b")
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["format"] = 99
    (backup / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="unknown backup format"):
        verify_backup(backup)


@pytest.mark.parametrize("part", ["postgres.dump", "temporal.db", "blobs.tar"])
def test_one_changed_byte_is_refused(tmp_path: Path, part: str) -> None:
    backup = _backup(tmp_path / "b")
    data = bytearray((backup / part).read_bytes())
    data[len(data) // 2] ^= 0x01
    (backup / part).write_bytes(bytes(data))
    with pytest.raises(BackupError, match="corrupt"):
        verify_backup(backup)


def test_a_missing_part_or_manifest_is_refused(tmp_path: Path) -> None:
    backup = _backup(tmp_path / "b")
    partial = tmp_path / "partial"
    shutil.copytree(backup, partial)
    (partial / "temporal.db").unlink()
    with pytest.raises(BackupError, match="missing"):
        verify_backup(partial)
    unfinished = tmp_path / "unfinished"
    shutil.copytree(backup, unfinished)
    (unfinished / "manifest.json").unlink()
    with pytest.raises(BackupError, match=r"no manifest\.json"):
        verify_backup(unfinished)
    (unfinished / "manifest.json").write_text("{not json")
    with pytest.raises(BackupError, match="unreadable manifest"):
        verify_backup(unfinished)


def test_a_blob_list_that_differs_from_the_manifest_is_refused(tmp_path: Path) -> None:
    backup = _backup(tmp_path / "b")
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["blobs"]["t1/b.bin"] = _sha(b"other")
    (backup / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="blobs checksums"):
        verify_backup(backup)
