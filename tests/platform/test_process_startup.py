"""A process refuses to start on invalid settings (naming the setting) or unreachable Temporal,
and each mode runs the halves it should."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from services.common.settings import ServiceName
from services.devstack.ports import free_port
from tests.service_runs import run_service
from tests.support import ROOT, Infra, start_service


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ADX_HTTP_PORT", "not-a-port"),
        ("ADX_HTTP_PORT", "70000"),
        ("ADX_ENV", "moon"),
        ("ADX_TASK_QUEUE_PREFIX", "Bad Prefix!"),
        ("ADX_WORKER_MAX_CONCURRENT_ACTIVITIES", "0"),
    ],
)
def test_invalid_setting_stops_the_process_naming_it(variable: str, value: str) -> None:
    result = run_service({variable: value})

    assert result.returncode == 2
    assert variable in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_temporal_is_reported_with_its_address() -> None:
    address = f"127.0.0.1:{free_port()}"
    result = run_service(
        {"ADX_TEMPORAL_ADDRESS": address, "ADX_TEMPORAL_CONNECT_ATTEMPTS": "2"}, "services.user"
    )

    assert result.returncode == 3
    assert f"cannot reach Temporal at {address}" in result.stderr


def test_invalid_mode_is_rejected() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.auth", "--mode", "sideways"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_worker_mode_serves_no_http(infra: Infra, tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    proc = start_service(
        ServiceName.auth, {**infra.env, "ADX_AUTH_PORT": str(port)}, tmp_path, mode="worker"
    )
    try:
        deadline = time.monotonic() + 90  # a loaded 2-core machine starts slowly
        while "worker_started" not in "\n".join(proc.tail()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "worker_started" in "\n".join(proc.tail())
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=2)
    finally:
        proc.stop()
