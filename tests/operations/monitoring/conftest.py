"""A real Prometheus (Debian's package) scraping the session's stack, from the project's own
``deploy/monitoring/prometheus.yml`` rendered with the stack's ports and a 1 s interval, plus one
test-only process (``canary``: a second user service, HTTP only) that a test may stop."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.common.settings import ServiceName
from services.devstack.ports import free_port, wait_for_http
from services.devstack.processes import ManagedProcess
from services.devstack.prometheus import (
    DEBIAN_PROMETHEUS,
    Prometheus,
    render_config,
    start_prometheus,
)
from tests.support import Stack, start_service

CANARY = "canary"


def prometheus_missing() -> str | None:
    if DEBIAN_PROMETHEUS.is_file() and shutil.which("promtool"):
        return None
    return (
        "Debian's prometheus is not installed (/usr/bin/prometheus; `make bootstrap` installs it)"
    )


@dataclass
class Monitoring:
    prometheus: Prometheus
    canary: ManagedProcess
    canary_port: int

    @property
    def url(self) -> str:
        return self.prometheus.url


@pytest.fixture(scope="package")  # stopped once this package's tests are done
def monitoring(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitoring]:
    reason = prometheus_missing()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("prometheus")
    canary_port = free_port()
    canary = start_service(
        ServiceName.user,
        {**stack.env, "ADX_USER_PORT": str(canary_port)},
        base / "logs",
        mode="http",
        name=CANARY,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{canary_port}/health/ready", 90, process=canary)
        ports = {service.value: port for service, port in stack.ports.items()}
        port = free_port()
        config = render_config(
            base / "prometheus.yml",
            {**ports, CANARY: canary_port},
            prometheus_port=port,
            interval="1s",
        )
        running = start_prometheus(base, config, port, log_file=base / "prometheus.log")
    except BaseException:
        canary.stop()
        raise
    yield Monitoring(running, canary, canary_port)
    running.process.stop()
    canary.stop()


def monitoring_dir() -> Path:
    from services.devstack.prometheus import MONITORING_DIR

    return MONITORING_DIR
