"""The chaos harness itself: the stack starts every process ready (the supervisor bringing a
killed process back is what worker_kill and gateway_kill check, with the platform's recovery)."""

from __future__ import annotations

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
