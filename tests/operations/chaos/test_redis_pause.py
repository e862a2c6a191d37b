"""Chaos, short version: SIGSTOP Redis under the load (it accepts TCP and never answers), then SIGCONT: every Redis call is bounded, so clients see SERVICE_UNAVAILABLE or a fail-open answer, never a 500 or a hang; afterwards subscriptions resume and every run completes or compensates."""

from __future__ import annotations

import pytest

from bench.chaos.stack import ChaosStack
from bench.mixed_load import LoadTarget
from tests.operations.chaos.conftest import run_short

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]


async def test_redis_pause(chaos_stack: ChaosStack, chaos_target: LoadTarget) -> None:
    verdict = await run_short(chaos_stack, chaos_target, "redis_pause")
    assert verdict.passed, "\n".join(verdict.reasons)
