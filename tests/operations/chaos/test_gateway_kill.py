"""Chaos, short version: kill -9 the gateway while subscribers follow runs: the supervisor starts it again and the subscribers reconnect and follow their runs to the end."""

from __future__ import annotations

import pytest

from bench.chaos.stack import ChaosStack
from bench.mixed_load import LoadTarget
from tests.operations.chaos.conftest import run_short

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]


async def test_gateway_kill(chaos_stack: ChaosStack, chaos_target: LoadTarget) -> None:
    verdict = await run_short(chaos_stack, chaos_target, "gateway_kill")
    assert verdict.passed, "\n".join(verdict.reasons)
