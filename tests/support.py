"""Test helpers: the per-run infrastructure (Temporal, PostgreSQL, Redis) and the process stack."""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.common.settings import DEFAULT_PORTS, ServiceName, Settings
from services.devstack.ports import free_port, wait_for_http
from services.devstack.processes import ManagedProcess

ROOT = Path(__file__).resolve().parent.parent
RUN_ID = uuid.uuid4().hex[:8]
#: A fixed, test-only payload key: recorded replay histories stay decryptable in later runs.
TEST_PAYLOAD_KEYS = '[{"kid": "test-1", "key": "dGVzdC1vbmx5LXBheWxvYWQta2V5LTMyLWJ5dGVzISE="}]'


@dataclass
class Infra:
    """Addresses of this test run's backing services, as ``ADX_*`` variables."""

    env: dict[str, str]
    data_dir: Path
    processes: list[ManagedProcess] = field(default_factory=list)

    def settings(self, **overrides: object) -> Settings:
        return Settings(**overrides) if overrides else Settings()


def service_module(service: ServiceName) -> str:
    return "gateway" if service == ServiceName.gateway else f"services.{service.value}"


def start_service(
    service: ServiceName,
    env: Mapping[str, str],
    log_dir: Path,
    *,
    mode: str = "both",
    name: str | None = None,
) -> ManagedProcess:
    label = name or service.value
    return ManagedProcess(
        label,
        [sys.executable, "-m", service_module(service), "--mode", mode],
        env={**os.environ, **env},
        cwd=ROOT,
        log_file=log_dir / f"{label}.log",
        echo=False,
        die_with_parent=True,
        stop_timeout=20,
    ).start()


@dataclass
class Stack:
    """The six platform processes running as separate OS processes on free ports."""

    env: dict[str, str]
    ports: dict[ServiceName, int]
    processes: dict[ServiceName, ManagedProcess]

    def url(self, service: ServiceName, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    @property
    def graphql(self) -> str:
        return self.url(ServiceName.gateway, "/graphql")

    @property
    def graphql_ws(self) -> str:
        return f"ws://127.0.0.1:{self.ports[ServiceName.gateway]}/graphql"


def start_stack(
    base_env: Mapping[str, str], log_dir: Path, services: Iterable[ServiceName] = DEFAULT_PORTS
) -> Stack:
    """Start ``services`` (default: all six) as processes and wait until each is ready."""
    ports = {service: free_port() for service in services}
    env = {**base_env, **{f"ADX_{s.value.upper()}_PORT": str(p) for s, p in ports.items()}}
    processes: dict[ServiceName, ManagedProcess] = {}
    try:
        for service in ports:
            processes[service] = start_service(service, env, log_dir)
        for service, port in ports.items():
            wait_for_http(
                f"http://127.0.0.1:{port}/health/ready", timeout=90, process=processes[service]
            )
    except BaseException:
        for proc in processes.values():
            proc.stop()
        raise
    return Stack(env=env, ports=ports, processes=processes)


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def stable_id(value: object, limit: int = 50) -> str | None:
    """A parametrized test's id for ``value`` that is the same in every process (pytest-xdist
    refuses workers that collected different ids): UUIDs made at import read ``uuid``, bytes
    (random data, bodies with UUIDs in them) as their length. ``None``: pytest's own."""
    if isinstance(value, uuid.UUID):
        return "uuid"
    if isinstance(value, bytes):
        return f"{len(value)}-bytes"
    if isinstance(value, str):
        masked = _UUID.sub("uuid", value)
        return masked[:limit] if masked != value else None
    return None
