"""Chaos, short version: kill -9 the Temporal dev server and start it again on its database file: clients and workers reconnect by themselves, the gateway answers UNAVAILABLE meanwhile, never a 500."""

from __future__ import annotations

import pytest

from bench.chaos.stack import ChaosStack
from bench.mixed_load import LoadTarget
from tests.operations.chaos.conftest import run_short

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]


async def test_temporal_kill(chaos_stack: ChaosStack, chaos_target: LoadTarget) -> None:
    verdict = await run_short(chaos_stack, chaos_target, "temporal_kill")
    assert verdict.passed, "\n".join(verdict.reasons)
