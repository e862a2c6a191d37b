"""The chaos harness itself: the stack starts every process ready, and the supervisor brings a
killed service back by itself."""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from bench.chaos.stack import INFRASTRUCTURE, SERVICES, ChaosStack

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(300)]


def test_every_process_of_the_stack_is_up_and_ready(chaos_stack: ChaosStack) -> None:
    for name in (*INFRASTRUCTURE, *SERVICES):
        assert chaos_stack.is_running(name), f"{name} is not running"
    assert chaos_stack.wait_ready(timeout=30) < 30
    answer = httpx.post(
        f"{chaos_stack.gateway_url}/graphql", json={"query": "{ __typename }"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"] == {"__typename": "Query"}
    assert chaos_stack.database_url.startswith("postgresql+asyncpg://")
    assert str(chaos_stack.root) in chaos_stack.env["ADX_DATA_DIR"]


def test_the_supervisor_restarts_a_killed_service(chaos_stack: ChaosStack) -> None:
    before = chaos_stack.pid("user")
    restarts = chaos_stack.restart_count("user")
    chaos_stack.kill("user", signal.SIGKILL)
    deadline = time.monotonic() + 60
    while chaos_stack.restart_count("user") == restarts and time.monotonic() < deadline:
        time.sleep(0.2)
    assert chaos_stack.restart_count("user") == restarts + 1, "the supervisor did not restart it"
    chaos_stack.wait_ready(timeout=120, names=("user",))
    assert chaos_stack.pid("user") not in (None, before)
