"""Chaos, short version: kill -9 the worker of the service whose activity is running, mid-activity: the supervisor starts it again and every run resumes, nothing written twice."""

from __future__ import annotations

import pytest

from bench.chaos.stack import ChaosStack
from bench.mixed_load import LoadTarget
from tests.operations.chaos.conftest import run_short

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]


async def test_worker_kill(chaos_stack: ChaosStack, chaos_target: LoadTarget) -> None:
    verdict = await run_short(chaos_stack, chaos_target, "worker_kill")
    assert verdict.passed, "\n".join(verdict.reasons)
