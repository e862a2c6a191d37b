"""Chaos, short version: stop PostgreSQL under the load and start it again: the routes that need it answer 503 / SERVICE_UNAVAILABLE meanwhile, never a 500; activities are retried, the pools recover without a restart and every run completes or compensates, nothing written twice."""

from __future__ import annotations

import pytest

from bench.chaos.stack import ChaosStack
from bench.mixed_load import LoadTarget
from tests.operations.chaos.conftest import run_short

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]


async def test_postgres_stop(chaos_stack: ChaosStack, chaos_target: LoadTarget) -> None:
    verdict = await run_short(chaos_stack, chaos_target, "postgres_stop")
    assert verdict.passed, "\n".join(verdict.reasons)
