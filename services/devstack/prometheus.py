"""Debian's ``prometheus`` against the running stack, from the project's own scrape config
(``deploy/monitoring/prometheus.yml`` and its rules), for ``make prometheus``.

The config is rendered into the data directory with the ports the stack uses (``ADX_<NAME>_PORT``
as ``make run`` reads them, services/devstack/catalog.py) and absolute rule paths; storage is
local (``.data/prometheus``). `make bootstrap` and `.ci/run` install the Debian package where it
is missing. The tests render the same file with their stack's ports and a 1 s interval
(tests/operations/monitoring)."""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from services.devstack.catalog import PLATFORM_SERVICES
from services.devstack.ports import ensure_ports_free, wait_for_http
from services.devstack.processes import DevStackError, ManagedProcess, StopRequested, announce

MONITORING_DIR = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
SCRAPE_CONFIG = MONITORING_DIR / "prometheus.yml"
DEBIAN_PROMETHEUS = Path("/usr/bin/prometheus")
DEBIAN_PROMTOOL = Path("/usr/bin/promtool")
DEFAULT_PORT = 9090
#: The scrape job of the platform's processes in ``prometheus.yml``.
PLATFORM_JOB = "adx"


def _binary(debian: Path, name: str) -> Path:
    if debian.is_file():
        return debian
    found = shutil.which(name)
    if found is None:
        raise DevStackError(f"no {name}: install Debian's prometheus (`make bootstrap` does)")
    return Path(found)


def prometheus_binary() -> Path:
    """Debian's ``/usr/bin/prometheus``, else one on PATH."""
    return _binary(DEBIAN_PROMETHEUS, "prometheus")


def promtool_binary() -> Path:
    """Debian's ``/usr/bin/promtool``, else one on PATH."""
    return _binary(DEBIAN_PROMTOOL, "promtool")


def stack_ports(env: Mapping[str, str]) -> dict[str, int]:
    """Each platform process's HTTP port, as ``make run`` starts them."""
    return {spec.name: spec.port(env) for spec in PLATFORM_SERVICES}


def render_config(
    target: Path,
    ports: Mapping[str, int],
    *,
    prometheus_port: int = DEFAULT_PORT,
    interval: str | None = None,
    source: Path = SCRAPE_CONFIG,
    host: str = "127.0.0.1",
) -> Path:
    """``source`` with the platform job's targets on ``host:ports[service]`` (one target per
    service of ``ports``, its ``service`` label kept), the self-scrape on ``prometheus_port``,
    rule files as absolute paths and, if given, ``interval`` for scrapes and evaluations."""
    config: dict[str, Any] = yaml.safe_load(source.read_text())
    base = source.parent
    config["rule_files"] = [str(base / pattern) for pattern in config.get("rule_files", [])]
    if interval is not None:
        config["global"]["scrape_interval"] = interval
        config["global"]["evaluation_interval"] = interval
    for job in config["scrape_configs"]:
        if job["job_name"] == PLATFORM_JOB:
            job["static_configs"] = [
                {"targets": [f"{host}:{port}"], "labels": {"service": name}}
                for name, port in ports.items()
            ]
        elif job["job_name"] == "prometheus":
            job["static_configs"] = [{"targets": [f"{host}:{prometheus_port}"]}]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    return target


@dataclass
class Prometheus:
    """A running Prometheus and where it answers."""

    process: ManagedProcess
    host: str
    port: int
    config: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def start_prometheus(
    base: Path,
    config: Path,
    port: int,
    *,
    host: str = "127.0.0.1",
    log_file: Path | None = None,
    echo: bool = False,
    startup_timeout: float = 60.0,
    die_with_parent: bool = False,
) -> Prometheus:
    """Start Prometheus on ``config`` with its storage under ``base``; return once it is ready."""
    ensure_ports_free({port: "Prometheus"}, host)
    storage = base / "data"
    storage.mkdir(parents=True, exist_ok=True)
    proc = ManagedProcess(
        "prometheus",
        [
            prometheus_binary(),
            f"--config.file={config}",
            f"--storage.tsdb.path={storage}",
            f"--web.listen-address={host}:{port}",
            "--web.enable-lifecycle",
        ],
        log_file=log_file,
        echo=echo,
        die_with_parent=die_with_parent,
    ).start()
    try:
        wait_for_http(f"http://{host}:{port}/-/ready", startup_timeout, process=proc)
    except BaseException:
        proc.stop()
        raise
    return Prometheus(proc, host, port, config)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.devstack.prometheus",
        description="Run Prometheus (Debian's package) against the stack `make run` started, "
        "from deploy/monitoring/prometheus.yml and its alert rules. Ctrl-C stops it.",
    )
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("ADX_PROMETHEUS_PORT", DEFAULT_PORT))
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("ADX_DATA_DIR") or ".data")
    )
    args = parser.parse_args(argv)
    base = args.data_dir.resolve() / "prometheus"
    config = render_config(
        base / "prometheus.yml", stack_ports(os.environ), prometheus_port=args.port
    )
    try:
        running = start_prometheus(
            base, config, args.port, log_file=base / "prometheus.log", echo=False
        )
    except DevStackError as error:
        announce(f"ERROR: {error}", "prometheus")
        return 1
    announce(
        f"Prometheus on {running.url} (targets: {running.url}/targets, alerts: "
        f"{running.url}/alerts), config {config}; Ctrl-C stops it",
        "prometheus",
    )
    try:
        while running.process.is_running():
            time.sleep(0.5)
        announce(f"stopped: {running.process.describe_exit()}", "prometheus")
        return 1
    except (KeyboardInterrupt, StopRequested):
        return 0
    finally:
        running.process.stop()


if __name__ == "__main__":
    raise SystemExit(main())
