"""The chaos scenarios by name. A scenario injects its fault while the load runs (recording it
with ``stack.fault(...)``) and returns once the fault is over; the verdict then judges recovery."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bench.chaos.scenarios import (
    gateway_kill,
    postgres_stop,
    redis_pause,
    temporal_kill,
    worker_kill,
)
from bench.chaos.stack import ChaosStack
from bench.mixed_load import MixedLoad

#: ``await scenario(stack, load, outage_seconds)``
Scenario = Callable[[ChaosStack, MixedLoad, float], Awaitable[None]]

SCENARIOS: dict[str, Scenario] = {
    "worker_kill": worker_kill.run,
    "temporal_kill": temporal_kill.run,
    "gateway_kill": gateway_kill.run,
    "postgres_stop": postgres_stop.run,
    "redis_pause": redis_pause.run,
}
