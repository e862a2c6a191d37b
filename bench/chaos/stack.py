"""A whole platform of its own for chaos runs: embedded PostgreSQL, redis-server and a Temporal
dev server (database file) on free ports under a temp dir, migrations and namespaces as `make run`
sets them up, the five services (dual mode) and the gateway as separate processes, and a
supervisor thread that restarts a dead service or gateway process as Kubernetes would."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
import psutil

from services.common.settings import Settings
from services.devstack.catalog import PLATFORM_SERVICES, SETUP_STEPS, ServiceSpec
from services.devstack.ports import free_port
from services.devstack.postgres import start_embedded_postgres
from services.devstack.processes import DevStackError, ManagedProcess, run_to_completion
from services.devstack.redis import redis_url, start_redis
from services.devstack.temporal import DEFAULT_NAMESPACES, start_temporal_dev_server

ROOT = Path(__file__).resolve().parents[2]
#: The processes the supervisor keeps running (as a Deployment's restartPolicy does).
SERVICES: tuple[str, ...] = tuple(spec.name for spec in PLATFORM_SERVICES)
#: Infrastructure: stopped and started only by a scenario, never by the supervisor.
INFRASTRUCTURE: tuple[str, ...] = ("temporal", "postgres", "redis")
#: Settings of every platform process of the stack, over the defaults `make run` uses.
STACK_SETTINGS: dict[str, str] = {
    "ADX_ENV": "development",
    "ADX_LOG_JSON": "true",
    "ADX_TEMPORAL_NAMESPACE": "adx-development",
    "ADX_MAIL_BACKEND": "outbox",
    "ADX_BLOB_BACKEND": "local",
    "ADX_BILLING_PROVIDER": "local",
    "ADX_WORKER_GRACEFUL_SHUTDOWN_SECONDS": "2",
    # The load comes from one address and a few accounts: limits stay on, far above its rate.
    "ADX_RATE_LIMIT_ANONYMOUS_REQUESTS": "1000000",
    "ADX_RATE_LIMIT_USER_REQUESTS": "1000000",
    "ADX_RATE_LIMIT_TENANT_REQUESTS": "1000000",
}


@dataclass
class Restart:
    """One restart by the supervisor: which process, when (monotonic), how the old one ended."""

    name: str
    at: float
    exit_code: int | None


@dataclass
class Fault:
    """One injected fault: what, and when it began and ended (``time.monotonic()``)."""

    label: str
    started: float
    ended: float | None = None
    #: What the scenario wants in the figures (the activity it killed, ...).
    details: dict[str, object] = field(default_factory=dict)

    @property
    def seconds(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


@dataclass
class _Slot:
    """One named process of the stack and how to start it again."""

    name: str
    start: Callable[[], ManagedProcess]
    proc: ManagedProcess | None = None
    #: Set by stop()/kill() of infrastructure and by close(): not the supervisor's to restart.
    held: bool = False
    died_at: float | None = None
    #: A killed service stays down until then (a longer back-off: an outage of that length).
    down_until: float = 0.0


@dataclass
class ChaosStack:
    """``with ChaosStack() as stack:`` a running platform; every process stopped on exit.

    ``restart_backoff`` is the supervisor's delay before it restarts a dead service process
    (Kubernetes starts at 10 s and doubles; short here so a short run sees the recovery).
    The supervisor restarting a killed process is the one thing an operator's platform does
    for us: everything else (reconnects, retries, resumed runs) is the services' own recovery.
    """

    data_dir: Path | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    restart_backoff: float = 1.0
    ready_timeout: float = 180.0
    echo: bool = False

    env: dict[str, str] = field(init=False, default_factory=dict)
    ports: dict[str, int] = field(init=False, default_factory=dict)
    restarts: list[Restart] = field(init=False, default_factory=list)
    faults: list[Fault] = field(init=False, default_factory=list)
    #: Services a scenario killed, and when (``time.monotonic()``): the restarts it expects.
    kills: list[tuple[str, float]] = field(init=False, default_factory=list)
    _slots: dict[str, _Slot] = field(init=False, default_factory=dict)
    _lock: threading.RLock = field(init=False, default_factory=threading.RLock)
    _closing: threading.Event = field(init=False, default_factory=threading.Event)
    _supervisor: threading.Thread | None = field(init=False, default=None)
    _own_dir: bool = field(init=False, default=False)

    # --- addresses ---------------------------------------------------------------------------
    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def database_url(self) -> str:
        return self.env["ADX_DATABASE_URL"]

    @property
    def redis_url(self) -> str:
        return self.env["ADX_REDIS_URL"]

    @property
    def temporal_address(self) -> str:
        return self.env["ADX_TEMPORAL_ADDRESS"]

    @property
    def outbox_dir(self) -> Path:
        return self.settings().outbox_dir()

    @property
    def blob_dir(self) -> Path:
        return self.settings().blob_dir or self.root / "blobs"

    @property
    def root(self) -> Path:
        assert self.data_dir is not None, "the stack is not started"
        return self.data_dir

    def settings(self) -> Settings:
        """The platform's settings as its processes read them (for direct reads in verdicts)."""
        return Settings.model_validate(
            {k.removeprefix("ADX_").lower(): v for k, v in self.env.items() if k.startswith("ADX_")}
        )

    def url(self, name: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def log_file(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    # --- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> ChaosStack:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Start infrastructure, set it up, start the six processes, wait until all are ready."""
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="adx-chaos-"))
            self._own_dir = True
        self.data_dir = self.data_dir.resolve()
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        self.ports = {name: free_port() for name in (*INFRASTRUCTURE, *SERVICES)}
        self.env = self._base_env()
        self._slots = {
            "temporal": _Slot("temporal", self._start_temporal),
            "postgres": _Slot("postgres", self._start_postgres),
            "redis": _Slot("redis", self._start_redis),
        }
        for name in INFRASTRUCTURE:
            self.start(name)
        for step in SETUP_STEPS:
            run_to_completion(
                step.name,
                [sys.executable, "-m", step.module, *step.args],
                env=self.env,
                cwd=ROOT,
            )
        for spec in PLATFORM_SERVICES:
            self._slots[spec.name] = _Slot(spec.name, self._service_starter(spec))
            self.start(spec.name)
        self.wait_ready(self.ready_timeout)
        self._supervisor = threading.Thread(
            target=self._supervise, name="chaos-supervisor", daemon=True
        )
        self._supervisor.start()

    def close(self) -> None:
        """Stop the supervisor, then every process (services first), then remove the temp dir."""
        self._closing.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        with self._lock:
            slots = list(self._slots.values())
            for slot in slots:
                slot.held = True
        services = [s for s in slots if s.name in SERVICES and s.proc is not None]
        for slot in services:
            assert slot.proc is not None
            slot.proc.terminate()
        for slot in services:
            assert slot.proc is not None
            slot.proc.stop(timeout=15)
        for slot in reversed([s for s in slots if s.name in INFRASTRUCTURE]):
            if slot.proc is not None:
                with contextlib.suppress(Exception):
                    self._resume_tree(slot.proc)  # a paused server cannot stop
                slot.proc.stop()
        if self._own_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # --- the contract for scenarios ------------------------------------------------------------
    def process(self, name: str) -> ManagedProcess:
        """The current process of ``name`` (a new object after each restart)."""
        proc = self._slot(name).proc
        if proc is None:
            raise DevStackError(f"{name} is not running")
        return proc

    def pid(self, name: str) -> int | None:
        proc = self._slot(name).proc
        return proc.pid if proc is not None and proc.is_running() else None

    def is_running(self, name: str) -> bool:
        proc = self._slot(name).proc
        return proc is not None and proc.is_running()

    @contextlib.contextmanager
    def fault(self, label: str) -> Iterator[Fault]:
        """Record the span of a fault (``with stack.fault("temporal killed"): ...``): the
        verdict measures the recovery from its end."""
        fault = Fault(label, time.monotonic())
        self.faults.append(fault)
        try:
            yield fault
        finally:
            fault.ended = time.monotonic()

    def kill(self, name: str, signum: int = signal.SIGKILL, *, down_for: float = 0.0) -> None:
        """Send ``signum`` (default SIGKILL: ``kill -9``) to the process and all it spawned.

        A killed service is restarted by the supervisor, after its back-off or ``down_for``
        seconds, whichever is longer; killed infrastructure stays down until the scenario calls
        :meth:`start`.
        """
        with self._lock:
            slot = self._slot(name)
            slot.down_until = time.monotonic() + down_for
            if name in SERVICES:
                self.kills.append((name, time.monotonic()))
            if name in INFRASTRUCTURE and signum in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
                slot.held = True
            proc = slot.proc
            if proc is None or not proc.is_running():
                return
            targets = [*proc.descendants()]
            if signum == signal.SIGKILL:
                proc.kill()  # the whole process group
            else:
                proc.send_signal(signum)
            for child in targets:
                with contextlib.suppress(psutil.Error):
                    child.send_signal(signum)
        if signum == signal.SIGKILL:
            with contextlib.suppress(Exception):
                proc.wait(timeout=10)

    def stop(self, name: str) -> None:
        """Stop ``name`` gracefully (its own stop signal); the supervisor leaves it down."""
        with self._lock:
            slot = self._slot(name)
            slot.held = True
            proc = slot.proc
        if proc is not None:
            proc.stop()

    def start(self, name: str) -> None:
        """Start ``name`` again (same port, same data files); infrastructure: until it answers."""
        with self._lock:
            slot = self._slot(name)
            if slot.proc is not None and slot.proc.is_running():
                raise DevStackError(f"{name} is already running (pid {slot.proc.pid})")
            if slot.proc is not None:
                slot.proc.stop(timeout=5)  # reap it and its stragglers
            slot.proc = slot.start()
            slot.held = False
            slot.died_at = None

    def restart(self, name: str) -> None:
        """Stop (gracefully) and start ``name``."""
        self.stop(name)
        self.start(name)

    def pause(self, name: str) -> None:
        """SIGSTOP the process and its children: it keeps its sockets but answers nothing."""
        proc = self.process(name)
        for target in [psutil.Process(proc.pid), *proc.descendants()]:
            with contextlib.suppress(psutil.Error):
                target.suspend()

    def resume(self, name: str) -> None:
        """SIGCONT what :meth:`pause` stopped."""
        self._resume_tree(self.process(name))

    def wait_ready(self, timeout: float = 120.0, names: tuple[str, ...] = SERVICES) -> float:
        """Wait until every one of ``names`` answers ``/health/ready`` 200; returns the seconds
        it took. Raises DevStackError with each laggard's last answer and output."""
        started = time.monotonic()
        deadline = started + timeout
        pending = dict.fromkeys(names, "no answer yet")
        with httpx.Client(timeout=3.0) as client:
            while pending:
                for name in list(pending):
                    try:
                        response = client.get(self.url(name, "/health/ready"))
                    except httpx.HTTPError as error:
                        pending[name] = f"{type(error).__name__}: {error}"
                        continue
                    if response.status_code == 200:
                        del pending[name]
                    else:
                        pending[name] = f"HTTP {response.status_code}: {response.text[:300]}"
                if not pending:
                    break
                if time.monotonic() >= deadline:
                    raise DevStackError(self._not_ready(pending, timeout))
                time.sleep(0.5)
        return time.monotonic() - started

    def heal(self, timeout: float = 180.0) -> list[str]:
        """Undo whatever a scenario left broken (a failed one may stop half-way): resume paused
        processes, start infrastructure that is down, then wait until every service is ready.
        Returns the names it had to start."""
        started = []
        for name in INFRASTRUCTURE:
            proc = self._slot(name).proc
            if proc is not None and proc.is_running():
                self._resume_tree(proc)
            else:
                self.start(name)
                started.append(name)
        for name in SERVICES:
            proc = self._slot(name).proc
            if proc is not None and proc.is_running():
                self._resume_tree(proc)
        self.wait_ready(timeout)
        return started

    def restart_count(self, name: str | None = None) -> int:
        return sum(1 for r in self.restarts if name is None or r.name == name)

    def service_of_pid(self, pid: int) -> str | None:
        """The service (or gateway) whose current process is ``pid``."""
        return next((name for name in SERVICES if self.pid(name) == pid), None)

    def wait_restarted(self, name: str, after: int, timeout: float = 120.0) -> float:
        """Wait until the supervisor has restarted ``name`` more than ``after`` times (the new
        process is started, not necessarily ready); returns the seconds it took."""
        started = time.monotonic()
        while self.restart_count(name) <= after:
            if time.monotonic() - started >= timeout:
                raise DevStackError(f"the supervisor did not restart {name} in {timeout:g}s")
            time.sleep(0.1)
        return time.monotonic() - started

    # --- internals -----------------------------------------------------------------------------
    def _slot(self, name: str) -> _Slot:
        try:
            return self._slots[name]
        except KeyError:
            raise DevStackError(f"no process {name!r} in the chaos stack") from None

    def _base_env(self) -> dict[str, str]:
        # The caller's own ADX_* settings (a test session's, a .env's) never leak into the stack.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ADX_")}
        env.update(STACK_SETTINGS)
        env.update(self.extra_env)
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "ADX_DATA_DIR": str(self.root),
                "ADX_TEMPORAL_ADDRESS": f"127.0.0.1:{self.ports['temporal']}",
                "ADX_REDIS_URL": redis_url(self.ports["redis"]),
                **{spec.port_variable: str(self.ports[spec.name]) for spec in PLATFORM_SERVICES},
            }
        )
        return env

    def _start_temporal(self) -> ManagedProcess:
        return start_temporal_dev_server(
            self.root,
            self.ports["temporal"],
            None,
            DEFAULT_NAMESPACES,
            self.log_file("temporal"),
            log_level="error",
            echo=self.echo,
            die_with_parent=True,
        )

    def _start_postgres(self) -> ManagedProcess:
        proc, url = start_embedded_postgres(
            self.root,
            self.ports["postgres"],
            log_file=self.log_file("postgres"),
            echo=self.echo,
            die_with_parent=True,
        )
        self.env["ADX_DATABASE_URL"] = url
        return proc

    def _start_redis(self) -> ManagedProcess:
        return start_redis(
            self.root,
            self.ports["redis"],
            log_file=self.log_file("redis"),
            echo=self.echo,
            die_with_parent=True,
        )

    def _service_starter(self, spec: ServiceSpec) -> Callable[[], ManagedProcess]:
        def start() -> ManagedProcess:
            return ManagedProcess(
                spec.name,
                [sys.executable, "-m", spec.module, *spec.args, "--mode", "both"]
                if spec.name != "gateway"
                else [sys.executable, "-m", spec.module, *spec.args],
                env=self.env,
                cwd=ROOT,
                log_file=self.log_file(spec.name),
                echo=self.echo,
                stop_timeout=20.0,
                die_with_parent=True,
            ).start()

        return start

    def _supervise(self) -> None:
        """Restart a dead service ``restart_backoff`` seconds after it died."""
        while not self._closing.wait(0.25):
            with self._lock:
                for name in SERVICES:
                    slot = self._slots[name]
                    if slot.held or slot.proc is None or slot.proc.is_running():
                        continue
                    now = time.monotonic()
                    if slot.died_at is None:
                        slot.died_at = now
                        continue
                    if now - slot.died_at < self.restart_backoff or now < slot.down_until:
                        continue
                    self.restarts.append(Restart(name, now, slot.proc.returncode))
                    try:
                        self.start(name)
                    except DevStackError:
                        slot.died_at = now  # try again after another back-off

    @staticmethod
    def _resume_tree(proc: ManagedProcess) -> None:
        if proc.pid is None:
            return
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(proc.pid)
            for target in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    target.resume()

    def _not_ready(self, pending: Mapping[str, str], timeout: float) -> str:
        lines = [f"not ready after {timeout:g}s:"]
        for name, last in pending.items():
            lines.append(f"  {name} (port {self.ports[name]}): {last}; last output:")
            proc = self._slots[name].proc
            tail = proc.tail(15) if proc is not None else []
            lines += [f"      {line}" for line in tail] or ["      (none)"]
        return "\n".join(lines)
