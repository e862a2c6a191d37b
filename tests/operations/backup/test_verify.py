"""Restore refuses a partial or corrupt backup before it writes anything (no stack needed: the
checks are on the directory alone)."""

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
    BackupError,
    verify_backup,
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _backup(directory: Path) -> Path:
    directory.mkdir()
    blobs = {"t1/a.bin": b"alpha" * 100, "t1/b.bin": b"beta"}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in blobs.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    contents = {
        "postgres.dump": b"PGDMP" + bytes(range(256)) * 4,
        "temporal.db": b"SQLite format 3\x00" + b"\x01" * 500,
        "blobs.tar": buffer.getvalue(),
    }
    parts = {}
    for name, file in BACKUP_PARTS.items():
        (directory / file).write_bytes(contents[file])
        parts[name] = {"file": file, "size": len(contents[file]), "sha256": _sha(contents[file])}
    manifest = {
        "format": 1,
        "created_at": "2026-12-01T00:00:00+00:00",
        "database": "x",
        "versions": {},
        "parts": parts,
        "blobs": {name: _sha(data) for name, data in blobs.items()},
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def test_an_intact_backup_verifies(tmp_path: Path) -> None:
    manifest = verify_backup(_backup(tmp_path / "b"))
    assert set(manifest["parts"]) == {"postgres", "temporal", "blobs"}


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
