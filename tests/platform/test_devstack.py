"""The dev stack starts real Temporal, Redis and PostgreSQL servers and stops them without a trace."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest
import redis
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from services.devstack import (
    DEFAULT_NAMESPACES,
    DevStackError,
    ManagedProcess,
    ensure_ports_free,
    free_port,
    port_is_free,
    start_embedded_postgres,
    start_redis,
    start_temporal_dev_server,
)
from services.devstack.postgres import postgres_bin_dir, postgres_data_dir
from tests.support import ROOT

REPO = ROOT
INFRA_VARIABLES = ("ADX_TEMPORAL_ADDRESS", "ADX_DATABASE_URL", "ADX_REDIS_URL")


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(text in arg for arg in proc.info["cmdline"] or ()):
                found.append(proc.pid)
        except psutil.Error:
            continue
    return [pid for pid in found if pid != os.getpid()]


def _postgres_runnable() -> str | None:
    """Why the bundled PostgreSQL cannot run here, or None if it can."""
    binary = postgres_bin_dir() / "initdb"
    if not binary.is_file():
        return f"embedded-postgres ships no initdb at {binary}"
    result = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return f"the bundled initdb cannot run on this machine: {result.stderr.strip()}"
    return None


needs_postgres = pytest.mark.skipif(
    _postgres_runnable() is not None, reason=str(_postgres_runnable())
)


@pytest.fixture
def stopped_after() -> Iterator[list[ManagedProcess]]:
    """Processes appended here are stopped even when the test fails half-way."""
    procs: list[ManagedProcess] = []
    yield procs
    for proc in procs:
        proc.stop()


# --- Temporal -------------------------------------------------------------------------------
async def test_temporal_dev_server_has_the_namespaces_and_stops_cleanly(
    tmp_path: Path, stopped_after: list[ManagedProcess]
) -> None:
    port = free_port()
    server = start_temporal_dev_server(tmp_path, port=port, ui_port=free_port(), echo=False)
    stopped_after.append(server)

    client = await Client.connect(f"127.0.0.1:{port}", namespace="adx-staging")
    for namespace in DEFAULT_NAMESPACES:
        described = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace)
        )
        assert described.namespace_info.name == namespace

    pgid = server.pgid
    assert pgid is not None
    server.stop()

    assert not server.group_alive(), f"processes left in group {pgid}"
    assert _processes_mentioning(str(tmp_path / "temporal.db")) == []
    assert port_is_free(port)


# --- Redis ----------------------------------------------------------------------------------
def test_redis_keeps_keys_across_a_restart(
    tmp_path: Path, stopped_after: list[ManagedProcess]
) -> None:
    port = free_port()
    first = start_redis(tmp_path, port, echo=False)
    stopped_after.append(first)
    with redis.Redis(host="127.0.0.1", port=port) as client:
        client.set("adx:devstack:test", "survives")
    first.stop()
    assert not first.group_alive()
    assert port_is_free(port)

    second = start_redis(tmp_path, port, echo=False)
    stopped_after.append(second)
    with redis.Redis(host="127.0.0.1", port=port) as client:
        assert client.get("adx:devstack:test") == b"survives"
    second.stop()
    assert not second.group_alive()


# --- PostgreSQL -----------------------------------------------------------------------------
@pytest.fixture
def pg_dir() -> Iterator[Path]:
    """A directory outside pytest's own: run as root, PostgreSQL runs as a system user that
    must traverse every parent, and a pytest session starting meanwhile makes
    /tmp/pytest-of-<user> private again (0700), locking a running server out of its data."""
    path = Path(tempfile.mkdtemp(prefix="adx-embedded-pg-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@needs_postgres
async def test_embedded_postgres_serves_queries_and_leaves_nothing_behind(
    pg_dir: Path, stopped_after: list[ManagedProcess]
) -> None:
    port = free_port()
    server, url = start_embedded_postgres(pg_dir, port, echo=False)
    stopped_after.append(server)
    assert url == f"postgresql+asyncpg://postgres@127.0.0.1:{port}/adx"

    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        assert await connection.fetchval("select 1") == 1
    finally:
        await connection.close()
    workers = [proc.pid for proc in server.descendants()]
    assert workers, "expected PostgreSQL's background processes"

    server.stop()

    assert _alive([server.pid or 0, *workers]) == []
    assert _processes_mentioning(str(postgres_data_dir(pg_dir))) == []
    assert port_is_free(port)


@needs_postgres
async def test_embedded_postgres_restarts_after_a_crash_with_its_data(
    pg_dir: Path, stopped_after: list[ManagedProcess]
) -> None:
    port = free_port()
    server, url = start_embedded_postgres(pg_dir, port, echo=False)
    stopped_after.append(server)
    dsn = url.replace("+asyncpg", "")
    connection = await asyncpg.connect(dsn)
    await connection.execute("create table kept (v text); insert into kept values ('yes')")
    await connection.close()

    # Crash: SIGKILL everything, leaving postmaster.pid behind, and make it name a live process
    # that is not PostgreSQL (what pid reuse after a reboot or in a container looks like).
    victims = [psutil.Process(server.pid), *server.descendants()]
    for proc in victims:
        proc.kill()
    psutil.wait_procs(victims, timeout=10)
    server.stop()
    pid_file = postgres_data_dir(pg_dir) / "postmaster.pid"
    assert pid_file.exists()
    lines = pid_file.read_text().splitlines()
    pid_file.write_text("\n".join([str(os.getpid()), *lines[1:]]) + "\n")

    restarted, _ = start_embedded_postgres(pg_dir, port, echo=False)
    stopped_after.append(restarted)
    connection = await asyncpg.connect(dsn)
    try:
        assert await connection.fetchval("select v from kept") == "yes"
    finally:
        await connection.close()
    restarted.stop()
    assert not restarted.group_alive()


# --- processes and ports --------------------------------------------------------------------
def test_stop_escalates_to_sigkill_and_reaches_children_that_left_the_group() -> None:
    script = textwrap.dedent(
        """
        import signal, subprocess, time
        subprocess.Popen(["sleep", "120"])                          # same group
        subprocess.Popen(["sleep", "121"], start_new_session=True)  # its own group
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(120)
        """
    )
    proc = ManagedProcess("stubborn", [sys.executable, "-c", script], echo=False, stop_timeout=1)
    proc.start()
    deadline = time.monotonic() + 10
    while "ready" not in proc.tail() and time.monotonic() < deadline:
        time.sleep(0.05)
    children = [child.pid for child in proc.descendants()]
    assert len(children) == 2

    code = proc.stop()

    assert code == -signal.SIGKILL
    assert _alive(children) == []
    assert not proc.group_alive()


def test_die_with_parent_children_outlive_the_spawning_thread_not_the_process() -> None:
    # Spawned from a worker thread that then ends (as asyncio.to_thread's pool threads may).
    holder: list[ManagedProcess] = []
    spawner = threading.Thread(
        target=lambda: holder.append(
            ManagedProcess("sleeper", ["sleep", "60"], echo=False, die_with_parent=True).start()
        )
    )
    spawner.start()
    spawner.join()
    time.sleep(0.5)
    assert holder[0].is_running(), "child died with the thread that spawned it"
    holder[0].stop()

    # The parent process is SIGKILLed: its child must not stay behind.
    script = textwrap.dedent(
        """
        import time
        from services.devstack import ManagedProcess
        child = ManagedProcess("sleeper", ["sleep", "60"], die_with_parent=True).start()
        print(child.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while _alive([child_pid]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _alive([child_pid]) == []


def test_a_taken_port_fails_fast_naming_port_and_purpose() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not port_is_free(port)
        with pytest.raises(DevStackError, match=rf"port {port} for embedded Redis"):
            ensure_ports_free({port: "embedded Redis"})


# --- the launcher ---------------------------------------------------------------------------
def _launcher_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in INFRA_VARIABLES}
    env.update(
        ADX_DATA_DIR=str(tmp_path / "data"),
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> list[str]:
    """Lines of ``proc`` up to and including the one containing ``marker``."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if marker in line:
            return lines
    proc.kill()
    raise AssertionError(f"no {marker!r} within {timeout}s; output:\n" + "\n".join(lines))


def test_launcher_infra_only_stops_everything_on_sigterm_and_runs_again(tmp_path: Path) -> None:
    env = _launcher_env(
        tmp_path,
        ADX_EMBEDDED_TEMPORAL_PORT=str(free_port()),
        ADX_EMBEDDED_TEMPORAL_UI_PORT=str(free_port()),
        ADX_EMBEDDED_POSTGRES_PORT=str(free_port()),
        ADX_EMBEDDED_REDIS_PORT=str(free_port()),
    )
    for attempt in ("first", "second"):
        launcher = subprocess.Popen(
            [sys.executable, "-m", "services.devstack", "--infra-only"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            output = _read_until(launcher, "Ctrl-C stops everything", timeout=60)
            spawned = [child.pid for child in psutil.Process(launcher.pid).children(True)]
            assert {"temporal", "postgres", "redis-server"} <= {
                psutil.Process(pid).name() for pid in spawned
            }, output

            launcher.send_signal(signal.SIGTERM)
            rest, _ = launcher.communicate(timeout=60)
        finally:
            launcher.kill()
        assert launcher.returncode == 0, f"{attempt} run:\n{rest}"
        assert "no process left running" in rest
        assert _alive(spawned) == [], f"{attempt} run left processes behind"


FAKE_SERVICE = """
import http.server, os, sys, threading, time
name, behaviour = sys.argv[1], sys.argv[2]
port = int(os.environ[f"ADX_{name.upper()}_PORT"])

class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ready = self.path == "/health/ready" and behaviour != "never-ready"
        self.send_response(200 if ready else 503)
        self.end_headers()
    def log_message(self, *args):
        pass

if behaviour == "stubborn":
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
server = http.server.HTTPServer(("127.0.0.1", port), Health)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"{name} listening with DB {os.environ['ADX_DATABASE_URL']}", flush=True)
time.sleep(3 if behaviour == "dies" else 600)
print(f"{name} crashing", flush=True)
sys.exit(3)
"""

DRIVER = """
import sys
from services.devstack import ServiceSpec, SetupStep, run_dev
from services.devstack.catalog import PLATFORM_SERVICES
ports, behaviours, setup = sys.argv[1].split(","), sys.argv[2].split(","), sys.argv[3]
services = [
    ServiceSpec(f"svc{i}", "fake_service", int(port), (f"svc{i}", behaviour))
    for i, (port, behaviour) in enumerate(zip(ports, behaviours))
]
steps = [SetupStep("prep", "fake_setup", (setup,))]
raise SystemExit(run_dev(services=services, setup=steps, ready_timeout=5))
"""


def _fake_platform_command(
    tmp_path: Path, behaviours: list[str], setup: str = "ok"
) -> tuple[list[str], dict[str, str]]:
    (tmp_path / "fake_service.py").write_text(FAKE_SERVICE)
    (tmp_path / "fake_setup.py").write_text(
        "import sys; print('migrating', flush=True); sys.exit(0 if sys.argv[1] == 'ok' else 4)"
    )
    env = _launcher_env(
        tmp_path,
        # Point at "existing" servers so that only the platform processes are started.
        ADX_TEMPORAL_ADDRESS="127.0.0.1:1",
        ADX_DATABASE_URL="postgresql+asyncpg://adx:secret@127.0.0.1:1/adx",
        ADX_REDIS_URL="redis://127.0.0.1:1/0",
    )
    ports = ",".join(str(free_port()) for _ in behaviours)
    return [sys.executable, "-c", DRIVER, ports, ",".join(behaviours), setup], env


def _run_fake_platform(
    tmp_path: Path, behaviours: list[str], setup: str = "ok"
) -> subprocess.CompletedProcess[str]:
    argv, env = _fake_platform_command(tmp_path, behaviours, setup)
    return subprocess.run(
        argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_launcher_reports_and_stops_all_when_a_service_dies(tmp_path: Path) -> None:
    result = _run_fake_platform(tmp_path, ["lives", "dies"])

    out = result.stdout
    assert result.returncode == 1, out
    assert "prep | migrating" in out  # setup step ran, output prefixed
    assert "svc0 | svc0 listening with DB postgresql+asyncpg://adx:secret@" in out
    assert "ADX CORE is up" in out
    assert "postgresql+asyncpg://adx:***@127.0.0.1:1/adx" in out  # password hidden in banner
    assert "svc1 stopped unexpectedly: svc1 exited with code 3" in out
    assert "no process left running" in out
    assert _processes_mentioning("fake_service") == []


def test_launcher_names_the_service_that_is_not_ready(tmp_path: Path) -> None:
    result = _run_fake_platform(tmp_path, ["lives", "never-ready"])

    assert result.returncode == 1, result.stdout
    assert "not ready after 5s:" in result.stdout
    assert "svc1 (port" in result.stdout and "HTTP 503" in result.stdout
    assert "svc1 listening" in result.stdout  # its last output is shown
    assert "no process left running" in result.stdout


def test_launcher_aborts_when_a_setup_step_fails(tmp_path: Path) -> None:
    result = _run_fake_platform(tmp_path, ["lives"], setup="fail")

    assert result.returncode == 1, result.stdout
    assert "fake_setup fail` failed: prep exited with code 4" in result.stdout
    assert "svc0 listening" not in result.stdout


def test_a_second_stop_signal_kills_what_ignores_the_first(tmp_path: Path) -> None:
    argv, env = _fake_platform_command(tmp_path, ["stubborn"])
    launcher = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        _read_until(launcher, "Ctrl-C stops everything", timeout=30)
        launcher.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert launcher.poll() is None, "the stubborn service should still hold up the stop"
        launcher.send_signal(signal.SIGTERM)
        rest, _ = launcher.communicate(timeout=15)
    finally:
        launcher.kill()

    assert "killing every process now" in rest
    assert "no process left running" in rest
    assert _processes_mentioning("fake_service") == []
