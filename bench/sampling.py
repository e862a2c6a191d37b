"""Optional py-spy sampling of the service during one benchmark phase."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

from bench.stacks import summarize

RATE_HZ = 200


@contextlib.contextmanager
def sampled(pid: int | None, phase: str, directory: Path | None) -> Iterator[None]:
    """Record ``pid`` with py-spy while the block runs (no-op without ``directory``); writes
    ``<directory>/<phase>.txt`` (collapsed stacks) and ``<phase>-summary.txt``."""
    if directory is None or pid is None:
        yield
        return
    binary = shutil.which("py-spy")
    if binary is None:
        raise SystemExit("--py-spy needs py-spy on PATH (e.g. `uv tool install py-spy`)")
    directory.mkdir(parents=True, exist_ok=True)
    stacks = directory / f"{phase}.txt"
    # --nonblocking: the service is never paused to sample (py-spy's overhead stays off its CPU).
    spy = subprocess.Popen(  # noqa: S603 - fixed argv
        [
            binary, "record", "--pid", str(pid), "--rate", str(RATE_HZ), "--format", "raw",
            "--output", str(stacks), "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            _, errors = spy.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            _, errors = spy.communicate()
        if stacks.exists():
            summary = summarize(stacks)
            (directory / f"{phase}-summary.txt").write_text(summary + "\n")
            print(summary)
        else:
            print(f"py-spy wrote nothing for {phase}: {errors.decode(errors='replace')[-500:]}")
