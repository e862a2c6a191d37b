"""Optional py-spy sampling, or cProfile, of the service during one benchmark phase."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from bench.stacks import summarize
from services.devstack import ManagedProcess

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


@contextlib.contextmanager
def profiled(process: ManagedProcess | None, phase: str, stats: Path | None) -> Iterator[None]:
    """Profile ``process`` (run by ``bench.profile_service`` to write ``stats``) while the block
    runs; the phase's stats end up in ``<stats stem>-<phase><suffix>`` (no-op without
    ``stats``)."""
    if stats is None or process is None:
        yield
        return
    stats.unlink(missing_ok=True)
    process.send_signal(signal.SIGUSR1)
    try:
        yield
    finally:
        process.send_signal(signal.SIGUSR2)
        target = stats.with_name(f"{stats.stem}-{phase}{stats.suffix}")
        deadline = time.monotonic() + 30
        while not stats.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # dump_stats writes the file in one go, but let it finish
        if stats.exists():
            stats.replace(target)
            print(f"cProfile of the {phase} phase: {target} (python -m pstats {target})")
        else:
            print(f"the profiled service wrote no stats for {phase}")
