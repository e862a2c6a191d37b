"""`make run`: bring up Temporal, PostgreSQL, Redis and the six processes; stop all on Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil
from dotenv import dotenv_values

from services.devstack.catalog import PLATFORM_SERVICES, SETUP_STEPS, ServiceSpec, SetupStep
from services.devstack.ports import ensure_ports_free
from services.devstack.postgres import start_embedded_postgres
from services.devstack.processes import (
    STOP_SIGNALS,
    DevStackError,
    ManagedProcess,
    ProcessGroup,
    StopRequested,
    announce,
    private_log_dir,
    run_to_completion,
    stop_stale_processes,
)
from services.devstack.redis import redis_url, start_redis
from services.devstack.stripe import (
    EMULATOR_API_KEY,
    EMULATOR_WEBHOOK_SECRET,
    register_webhook,
    start_stripe_emulator,
    stripe_emulator_url,
)
from services.devstack.temporal import DEFAULT_NAMESPACES, start_temporal_dev_server

INFRA_TIER = 0
SERVICE_TIER = 1  # stopped first, while the infrastructure they use is still up
INFRA_EXECUTABLES = ("temporal", "postgres", "redis-server", "localstripe")
#: The tenant service's Stripe webhook route (services/tenant/billing/routes.py).
STRIPE_WEBHOOK_PATH = "/billing/webhooks/stripe"
TRUTHY = ("1", "true", "yes", "on", "t", "y")  # as pydantic reads a bool setting


@dataclass(frozen=True)
class DevConfig:
    """What the launcher starts, read from ``ADX_*`` environment variables.

    An ``ADX_TEMPORAL_ADDRESS``, ``ADX_DATABASE_URL`` or ``ADX_REDIS_URL`` that is already set
    means "use that server": the embedded one is not started.
    """

    data_dir: Path
    temporal_address: str | None
    temporal_port: int
    temporal_ui_port: int
    database_url: str | None
    postgres_port: int
    redis_url: str | None
    redis_port: int
    #: Start the localstripe emulator: ``ADX_BILLING_PROVIDER=stripe`` without an
    #: ``ADX_STRIPE_API_BASE`` (a set one means "use that Stripe", e.g. the real test mode).
    stripe_emulator: bool = False
    stripe_port: int = 8420

    @classmethod
    def from_env(cls, env: Mapping[str, str], data_dir: Path | None = None) -> DevConfig:
        def port(name: str, default: int) -> int:
            raw = env.get(name, "")
            try:
                return int(raw) if raw else default
            except ValueError:
                raise DevStackError(f"{name}={raw!r} is not a port number") from None

        return cls(
            data_dir=(data_dir or Path(env.get("ADX_DATA_DIR") or ".data")).resolve(),
            temporal_address=env.get("ADX_TEMPORAL_ADDRESS") or None,
            temporal_port=port("ADX_EMBEDDED_TEMPORAL_PORT", 7233),
            temporal_ui_port=port("ADX_EMBEDDED_TEMPORAL_UI_PORT", 8088),
            database_url=env.get("ADX_DATABASE_URL") or None,
            postgres_port=port("ADX_EMBEDDED_POSTGRES_PORT", 5433),
            redis_url=env.get("ADX_REDIS_URL") or None,
            redis_port=port("ADX_EMBEDDED_REDIS_PORT", 6380),
            stripe_emulator=(env.get("ADX_BILLING_PROVIDER", "").strip().lower() == "stripe")
            and not env.get("ADX_STRIPE_API_BASE"),
            stripe_port=port("ADX_EMBEDDED_STRIPE_PORT", 8420),
        )


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo = f"{parts.username or ''}:***@"
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=userinfo + host))


class DevStack:
    """One `make run`: the processes it started and the environment its children see."""

    def __init__(
        self,
        config: DevConfig,
        env: Mapping[str, str],
        services: Sequence[ServiceSpec],
        setup: Sequence[SetupStep],
    ) -> None:
        self.config = config
        self.env = dict(env)
        self.services = list(services)
        self.setup = list(setup)
        self.group = ProcessGroup()
        self.long_running: list[ManagedProcess] = []
        self.temporal_ui: str | None = None

    def log_file(self, name: str) -> Path:
        return self.config.data_dir / "logs" / f"{name}.log"

    def codec_open(self) -> bool:
        """Whether this run opted the codec endpoint out of its operator token (development
        only): the Temporal UI cannot send a token, so only then can it decrypt payloads."""
        return self.env.get("ADX_CODEC_OPEN_IN_DEVELOPMENT", "").strip().lower() in TRUTHY

    def codec_endpoint(self) -> str | None:
        """The workflow service's codec URL, for the Temporal UI to show decrypted payloads;
        ``None`` unless the endpoint is open to it (``ADX_CODEC_OPEN_IN_DEVELOPMENT=true``)."""
        if not self.codec_open():
            return None
        for service in self.services:
            if service.name == "workflow":
                return f"http://localhost:{service.port(self.env)}/codec"
        return None

    # --- steps --------------------------------------------------------------------------------
    def preflight(self) -> None:
        """Clear leftovers of a killed run on this data dir, then fail fast on taken ports."""
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        private_log_dir(self.log_file("*").parent)  # logs/ 0700, its *.log files 0600
        stop_stale_processes(
            f"{self.config.data_dir}{os.sep}", INFRA_EXECUTABLES, owner_marker="services.devstack"
        )
        wanted: dict[int, str] = {}
        if self.config.temporal_address is None:
            wanted[self.config.temporal_port] = "the Temporal dev server (gRPC frontend)"
            wanted[self.config.temporal_ui_port] = "the Temporal Web UI"
        if self.config.database_url is None:
            wanted[self.config.postgres_port] = "embedded PostgreSQL"
        if self.config.redis_url is None:
            wanted[self.config.redis_port] = "embedded Redis"
        if self.config.stripe_emulator:
            wanted[self.config.stripe_port] = "the Stripe emulator (localstripe)"
        for spec in self.services:
            wanted[spec.port(self.env)] = f"the {spec.name} process (HTTP)"
        ensure_ports_free(wanted)

    def _keep(self, proc: ManagedProcess) -> None:
        self.group.add(proc, INFRA_TIER)
        self.long_running.append(proc)

    def start_infrastructure(self) -> None:
        """Temporal, PostgreSQL and Redis unless configured; exports their addresses."""
        data_dir = self.config.data_dir
        self.env["ADX_DATA_DIR"] = str(data_dir)
        if self.config.temporal_address is None:
            announce(f"starting Temporal dev server on 127.0.0.1:{self.config.temporal_port}")
            self._keep(
                start_temporal_dev_server(
                    data_dir,
                    self.config.temporal_port,
                    self.config.temporal_ui_port,
                    DEFAULT_NAMESPACES,
                    self.log_file("temporal"),
                    log_level="error",  # "warn" prints a page of poller noise at every stop
                    die_with_parent=True,
                    ui_codec_endpoint=self.codec_endpoint(),
                )
            )
            self.env["ADX_TEMPORAL_ADDRESS"] = f"127.0.0.1:{self.config.temporal_port}"
            self.temporal_ui = f"http://localhost:{self.config.temporal_ui_port}"
        else:
            announce(f"using Temporal at {self.config.temporal_address} (ADX_TEMPORAL_ADDRESS)")

        if self.config.database_url is None:
            announce(f"starting embedded PostgreSQL on 127.0.0.1:{self.config.postgres_port}")
            postgres, url = start_embedded_postgres(
                data_dir,
                self.config.postgres_port,
                log_file=self.log_file("postgres"),
                die_with_parent=True,
            )
            self._keep(postgres)
            self.env["ADX_DATABASE_URL"] = url
        else:
            announce(f"using PostgreSQL at {mask_url(self.config.database_url)}")

        if self.config.redis_url is None:
            announce(f"starting embedded Redis on 127.0.0.1:{self.config.redis_port}")
            self._keep(
                start_redis(
                    data_dir,
                    self.config.redis_port,
                    log_file=self.log_file("redis"),
                    die_with_parent=True,
                )
            )
            self.env["ADX_REDIS_URL"] = redis_url(self.config.redis_port)
        else:
            announce(f"using Redis at {mask_url(self.config.redis_url)}")

        if self.config.stripe_emulator:
            self.start_stripe_emulator()

    def start_stripe_emulator(self) -> None:
        """localstripe, its webhooks delivered to the tenant service, its address, key and
        webhook secret exported (unless set) for the services and ``adx billing setup``."""
        port = self.config.stripe_port
        announce(f"starting the Stripe emulator (localstripe) on 127.0.0.1:{port}")
        self._keep(
            start_stripe_emulator(port, log_file=self.log_file("stripe"), die_with_parent=True)
        )
        api_base = stripe_emulator_url(port)
        self.env["ADX_STRIPE_API_BASE"] = api_base
        self.env.setdefault("ADX_STRIPE_API_KEY", EMULATOR_API_KEY)
        self.env.setdefault("ADX_STRIPE_WEBHOOK_SECRET", EMULATOR_WEBHOOK_SECRET)
        tenant_port = next(
            (spec.port(self.env) for spec in self.services if spec.name == "tenant"), 8085
        )
        register_webhook(
            api_base,
            f"http://127.0.0.1:{tenant_port}{STRIPE_WEBHOOK_PATH}",
            self.env["ADX_STRIPE_WEBHOOK_SECRET"],
        )

    def run_setup(self) -> None:
        """Migrations and Temporal namespace setup; any failure aborts the launch."""
        for step in self.setup:
            announce(f"running `python -m {step.module} {' '.join(step.args)}`")
            run_to_completion(
                step.name,
                [sys.executable, "-m", step.module, *step.args],
                env=self._child_env(),
                group=self.group,
            )

    def _child_env(self) -> dict[str, str]:
        env = dict(self.env)
        env["PYTHONUNBUFFERED"] = "1"
        for spec in self.services:
            env[spec.port_variable] = str(spec.port(self.env))
        return env

    def start_services(self) -> None:
        env = self._child_env()
        for spec in self.services:
            proc = ManagedProcess(
                spec.name,
                [sys.executable, "-m", spec.module, *spec.args],
                env=env,
                log_file=self.log_file(spec.name),
                # Workers wait up to ADX_WORKER_GRACEFUL_SHUTDOWN_SECONDS (30 s) for running
                # activities; Ctrl-C twice skips the wait.
                stop_timeout=40.0,
                die_with_parent=True,
            )
            self.group.start(proc, SERVICE_TIER)
            self.long_running.append(proc)

    def wait_until_ready(self, timeout: float) -> None:
        """Poll every process's /health/ready until all answer 200 or one dies."""
        procs = {proc.name: proc for proc in self.long_running}
        pending = {spec.name: spec for spec in self.services}
        last: dict[str, str] = dict.fromkeys(pending, "no answer yet")
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for name, spec in list(pending.items()):
                    proc = procs[name]
                    if not proc.is_running():
                        raise DevStackError(f"{name} died while starting: {proc.describe_exit()}")
                    url = f"http://127.0.0.1:{spec.port(self.env)}/health/ready"
                    try:
                        response = client.get(url)
                    except httpx.HTTPError as error:
                        last[name] = f"{type(error).__name__}: {error}"
                        continue
                    if response.status_code == 200:
                        announce(f"{name} is ready on port {spec.port(self.env)}")
                        del pending[name]
                    else:
                        last[name] = f"HTTP {response.status_code}: {response.text[:300]}"
                if pending and time.monotonic() >= deadline:
                    raise DevStackError(self._not_ready_report(pending, last, procs, timeout))
                if pending:
                    time.sleep(0.5)

    def _not_ready_report(
        self,
        pending: Mapping[str, ServiceSpec],
        last: Mapping[str, str],
        procs: Mapping[str, ManagedProcess],
        timeout: float,
    ) -> str:
        lines = [f"not ready after {timeout:g}s:"]
        for name, spec in pending.items():
            lines.append(f"  {name} (port {spec.port(self.env)}): {last[name]}; last output:")
            lines += [f"      {line}" for line in procs[name].tail(15)] or ["      (none)"]
        return "\n".join(lines)

    def banner(self) -> str:
        rows: list[tuple[str, str]] = []
        for spec in self.services:
            port = spec.port(self.env)
            if spec.name == "gateway":
                rows.append(("GraphQL (GraphiQL)", f"http://localhost:{port}/graphql"))
            elif spec.docs_path:
                rows.append((f"{spec.name} API docs", f"http://localhost:{port}{spec.docs_path}"))
        rows.append(("Temporal UI", self.temporal_ui or "(external server: use its own UI)"))
        if self.temporal_ui and not self.codec_open():
            rows.append(
                (
                    "  payloads",
                    "encrypted in the UI; ADX_CODEC_OPEN_IN_DEVELOPMENT=true make run decrypts "
                    "them (docs/service-auth.md)",
                )
            )
        if self.services:
            first = self.services[0].port(self.env)
            rows.append(
                (
                    "metrics",
                    f"http://localhost:{first}/metrics (each process on its port); `make "
                    "prometheus` scrapes them all with the alert rules (docs/observability.md)",
                )
            )
        rows.append(("Temporal frontend", self.env.get("ADX_TEMPORAL_ADDRESS", "?")))
        rows.append(("PostgreSQL", mask_url(self.env.get("ADX_DATABASE_URL", "?"))))
        rows.append(("Redis", mask_url(self.env.get("ADX_REDIS_URL", "?"))))
        if self.config.stripe_emulator:
            rows.append(("Stripe emulator", self.env.get("ADX_STRIPE_API_BASE", "?")))
        rows.append(("data directory", str(self.config.data_dir)))
        rows.append(("logs", str(self.log_file("*"))))
        width = max(len(label) for label, _ in rows)
        body = "\n".join(f"  {label:<{width}}  {value}" for label, value in rows)
        return f"ADX CORE is up. Ctrl-C stops everything.\n{body}"

    def supervise(self) -> None:
        """Block until a signal (StopRequested) or until a process dies (DevStackError)."""
        while True:
            dead = self.group.first_exited(self.long_running)
            if dead is not None:
                raise DevStackError(f"{dead.name} stopped unexpectedly: {dead.describe_exit()}")
            time.sleep(0.5)


def _environment() -> dict[str, str]:
    """os.environ over ``.env``, as the processes' settings read them (so ``ADX_DATABASE_URL``
    in ``.env`` also means "use that server")."""
    from_file = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    return {**from_file, **os.environ}


def _report_leftovers() -> None:
    """Check that nothing we spawned survived (and kill it if so): the stop must be total."""
    leftovers = psutil.Process().children(recursive=True)
    for proc in leftovers:
        with contextlib.suppress(psutil.Error):
            announce(f"WARNING: killing leftover pid {proc.pid}: {' '.join(proc.cmdline())}")
            proc.kill()
    if not leftovers:
        announce("stopped; no process left running")


def run_dev(
    *,
    infra_only: bool = False,
    data_dir: Path | None = None,
    services: Sequence[ServiceSpec] = PLATFORM_SERVICES,
    setup: Sequence[SetupStep] = SETUP_STEPS,
    ready_timeout: float = 90.0,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run the local platform until Ctrl-C/SIGTERM; returns the exit code (0 on a clean stop).

    ``infra_only`` starts only Temporal, PostgreSQL and Redis (for running services by hand or
    tests against them). Whatever happens, every process started here is stopped on return.
    """
    environ = _environment() if env is None else dict(env)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    stack: DevStack | None = None
    code = 0
    try:
        config = DevConfig.from_env(environ, data_dir)
        stack = DevStack(
            config, environ, [] if infra_only else services, [] if infra_only else setup
        )
        if in_main_thread:
            stack.group.install_signal_handlers()
        stack.preflight()
        stack.start_infrastructure()
        stack.run_setup()
        stack.start_services()
        stack.wait_until_ready(ready_timeout)
        announce(stack.banner())
        stack.supervise()
    except StopRequested as stop:
        announce(f"{signal.Signals(stop.signum).name} received: stopping")
    except KeyboardInterrupt:
        announce("interrupted: stopping")
    except DevStackError as error:
        announce(f"ERROR: {error}")
        code = 1
    finally:
        if stack is not None:
            stack.group.stop_all()
            _report_leftovers()
        if in_main_thread:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.devstack",
        description="Run ADX CORE locally: Temporal dev server, PostgreSQL and Redis (embedded "
        "unless ADX_TEMPORAL_ADDRESS / ADX_DATABASE_URL / ADX_REDIS_URL are set), migrations, "
        "then the gateway and the five services. Ctrl-C stops everything.",
    )
    parser.add_argument(
        "--infra-only", action="store_true", help="start only Temporal, PostgreSQL and Redis"
    )
    parser.add_argument(
        "--data-dir", type=Path, help="state directory (default: $ADX_DATA_DIR or .data)"
    )
    parser.add_argument(
        "--ready-timeout", type=float, default=90.0, help="seconds to wait for /health/ready"
    )
    args = parser.parse_args(argv)
    return run_dev(
        infra_only=args.infra_only, data_dir=args.data_dir, ready_timeout=args.ready_timeout
    )
