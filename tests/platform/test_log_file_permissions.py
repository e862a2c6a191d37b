"""Dev-stack process logs are owner-only (issue 6, finding 4: they were 0644): files 0600, the
logs directory 0700, whatever the umask, and files an earlier run left 0644 are tightened."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.devstack.launcher import DevConfig, DevStack
from services.devstack.processes import ManagedProcess, open_private_log


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 000: a file created with the default mode would be 0666 and a directory 0777."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_a_process_log_is_created_owner_only(tmp_path: Path, permissive_umask: None) -> None:
    log_file = tmp_path / "logs" / "auth.log"
    proc = ManagedProcess(
        "auth", [sys.executable, "-c", "print('hello')"], log_file=log_file, echo=False
    ).start()
    proc.wait(timeout=30)
    proc.stop()
    assert "hello" in log_file.read_text()
    assert mode(log_file) == 0o600
    assert mode(log_file.parent) == 0o700


def test_an_existing_world_readable_log_is_tightened_and_appended(tmp_path: Path) -> None:
    log_file = tmp_path / "gateway.log"
    log_file.write_text("earlier run\n")
    log_file.chmod(0o644)
    with open_private_log(log_file) as log:
        log.write(b"this run\n")
    assert log_file.read_text() == "earlier run\nthis run\n"
    assert mode(log_file) == 0o600


def test_a_symlink_in_place_of_a_log_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    (tmp_path / "auth.log").symlink_to(target)
    with pytest.raises(OSError):
        open_private_log(tmp_path / "auth.log")


def test_the_launcher_makes_its_logs_directory_owner_only(tmp_path: Path) -> None:
    logs = tmp_path / "data" / "logs"
    logs.mkdir(parents=True)
    logs.chmod(0o755)
    old = logs / "temporal.log"
    old.write_text("from an earlier run\n")
    old.chmod(0o644)
    env = {
        "ADX_TEMPORAL_ADDRESS": "127.0.0.1:1",  # external servers: nothing to start or probe
        "ADX_DATABASE_URL": "postgresql://127.0.0.1:1/x",
        "ADX_REDIS_URL": "redis://127.0.0.1:1/0",
    }
    stack = DevStack(DevConfig.from_env(env, tmp_path / "data"), env, services=[], setup=[])
    stack.preflight()
    assert stack.log_file("auth").parent == logs
    assert mode(logs) == 0o700
    assert mode(old) == 0o600
