"""The gateway's circuit breakers, from ``purgatory`` (asyncio): one per backend service and one
per instance of it, all made here so their states can be logged and exported on ``/metrics``.

A breaker counts consecutive failures to *reach* its target (transport errors, timeouts, 502 and
504); after ``ADX_BREAKER_FAILURE_THRESHOLD`` of them it opens and calls fail at once for
``ADX_BREAKER_OPEN_SECONDS``; the first call after that is a trial (half-open): its success
closes the breaker, its failure opens it again. An answer from a running service (a 4xx, a 500,
a 503) is a success here (docs/gateway.md, *Outages*)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from purgatory import AsyncCircuitBreakerFactory, ContextChanged, Event
from purgatory.domain.model import Context, OpenedState
from purgatory.service._async.circuitbreaker import AsyncCircuitBreaker

from services.common.logging import get_logger

_log = get_logger(__name__)

CLOSED, HALF_OPEN, OPEN = "closed", "half-opened", "opened"
#: The gauge value of each state on ``/metrics`` (``adx_gateway_circuit_state``).
STATE_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}

#: Raised on entering an open breaker (purgatory's own exception type).
CircuitOpen = OpenedState

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "Breaker", "Breakers", "CircuitOpen"]


class Breaker:
    """One named circuit: ``async with breaker:`` raises ``CircuitOpen`` while open, and counts
    an exception leaving the block as a failure (a cancelled call is not one)."""

    def __init__(self, circuit: AsyncCircuitBreaker) -> None:
        self._circuit = circuit

    @property
    def name(self) -> str:
        return self._circuit.context.name

    @property
    def state(self) -> str:
        return self._circuit.context.state

    def rejects(self) -> bool:
        """Whether a call now would be refused without trying (open, trial time not reached)."""
        context = self._circuit.context
        if context.state != OPEN or context.opened_at is None:
            return False
        return time.time() <= context.opened_at + context.ttl

    async def __aenter__(self) -> Breaker:
        await self._circuit.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._circuit.__aexit__(*exc_info)


class Breakers:
    """Makes and keeps every breaker of the process; logs each change of state."""

    def __init__(self, threshold: int, open_seconds: float) -> None:
        self.threshold = threshold
        self.open_seconds = open_seconds
        self._factory = AsyncCircuitBreakerFactory(
            default_threshold=threshold, default_ttl=open_seconds
        )
        self._factory.add_listener(self._on_event)
        self._all: dict[str, Breaker] = {}

    def get(self, name: str) -> Breaker:
        """The breaker called ``name``, made on first use (synchronously: purgatory's in-memory
        store hands out the same ``Context`` object each time, so one is built directly)."""
        breaker = self._all.get(name)
        if breaker is None:
            context = Context(name, self.threshold, self.open_seconds)
            context.exclude_list = [asyncio.CancelledError]
            circuit = AsyncCircuitBreaker(context, self._factory.uow, self._factory.messagebus)
            breaker = self._all[name] = Breaker(circuit)
        return breaker

    def forget(self, name: str) -> None:
        self._all.pop(name, None)

    def states(self) -> dict[str, str]:
        return {name: breaker.state for name, breaker in self._all.items()}

    def _on_event(self, name: str, kind: str, event: Event) -> None:
        if kind != "state_changed" or not isinstance(event, ContextChanged):
            return
        if event.state == OPEN:
            _log.warning("circuit_breaker_opened", circuit=name, open_seconds=self.open_seconds)
        elif event.state == HALF_OPEN:
            _log.info("circuit_breaker_half_open", circuit=name)
        else:
            _log.info("circuit_breaker_closed", circuit=name)
