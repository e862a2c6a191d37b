"""Starting ``tenant_switching`` without paying a Temporal start on every switch.

A switch is immediate and the auth service's own (``switch.py``). Its bookkeeping (the user's
last active tenant, the tenants left's cached permissions) only has to be right eventually, and
a run per switch made a switch cost several times a token refresh (Temporal's start RPC and the
dev server's CPU per call). So the runs are **throttled per session**, in this process:

- a session's first switch (or its first after a quiet ``interval``) starts its run at once,
  after the answer, as before;
- switches within ``interval`` of that start are **coalesced** into one trailing run, started
  when the interval has passed: it carries the latest switch (the session's tenant now, the
  latest ``switched_at``) and every tenant the session left meanwhile
  (``from_tenant_id`` and ``also_left_tenant_ids``), so nothing is dropped, only merged;
- each switch answers with the id of the run that will carry it (the started one, or the
  trailing one; a trailing run exists from the end of the interval on).

So a session starts at most one run per ``interval`` (plus none while it does not switch), and
the last tenant is recorded at most ``interval`` after the last switch (plus the run's own
time). The records are ordered by ``switched_at`` (``tenants.active_tenants``), so runs of
other sessions or replicas of the same user, in any order, leave the latest switch recorded.

What is weaker than a start per switch: a trailing run waits in this process's memory for up to
``interval``; a process that dies in that window loses it (the switch stands; the user's next
switch records the tenant). A start that fails is logged, as before.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from workflows.tenant.tenant_switching import TenantSwitchingInput, tenant_switching_workflow_id

log = structlog.get_logger(__name__)

#: At most one ``tenant_switching`` start per session per this many seconds.
BOOKKEEPING_INTERVAL_SECONDS = 1.0

#: Starts a run: the bookkeeping input, its workflow id, the switching user's roles in the tenant.
Starter = Callable[[TenantSwitchingInput, str, list[str]], Awaitable[None]]


@dataclass
class _Trailing:
    workflow_id: str
    input: TenantSwitchingInput
    roles: list[str]
    #: Tenants the session left since its last start, in order (the first is the one it was in).
    left: list[str] = field(default_factory=list)


def _merged(trailing: _Trailing) -> TenantSwitchingInput:
    """The trailing run's input: the latest switch, with every tenant left but the current one."""
    left = [
        tenant for tenant in dict.fromkeys(trailing.left) if tenant != trailing.input.to_tenant_id
    ]
    return replace(
        trailing.input,
        from_tenant_id=left[0] if left else None,
        also_left_tenant_ids=left[1:],
    )


class SwitchBookkeeping:
    """One per auth process (``bookkeeping_for``): decides when a switch starts a run."""

    def __init__(self, start: Starter, interval: float = BOOKKEEPING_INTERVAL_SECONDS) -> None:
        self._start = start
        self.interval = interval
        self._started_at: dict[str, float] = {}
        self._trailing: dict[str, _Trailing] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: dict[str, asyncio.Task[None]] = {}

    def note(self, switch: TenantSwitchingInput, roles: list[str]) -> str:
        """Take a done switch; answer the id of the run that records it. Never blocks."""
        session = switch.session_id
        trailing = self._trailing.get(session)
        if trailing is not None:
            if switch.from_tenant_id is not None:
                trailing.left.append(switch.from_tenant_id)
            if switch.switched_at >= trailing.input.switched_at:
                trailing.input, trailing.roles = switch, roles
            return trailing.workflow_id
        now = time.monotonic()
        self._forget_quiet(now)
        workflow_id = tenant_switching_workflow_id(session, secrets.token_urlsafe(9))
        last = self._started_at.get(session)
        if last is None or now - last >= self.interval:
            self._started_at[session] = now
            self._spawn(self._run(switch, workflow_id, roles))
        else:
            self._trailing[session] = _Trailing(
                workflow_id,
                switch,
                roles,
                left=[switch.from_tenant_id] if switch.from_tenant_id else [],
            )
            self._waiting[session] = self._spawn(
                self._flush_later(session, last + self.interval - now)
            )
        return workflow_id

    async def drain(self) -> None:
        """Start every trailing run now and wait for the starts (a process shutting down)."""
        for waiting in list(self._waiting.values()):
            waiting.cancel()
        self._waiting.clear()
        for session in list(self._trailing):
            self._spawn(self._flush_later(session, 0))
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _flush_later(self, session: str, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
            self._waiting.pop(session, None)
        trailing = self._trailing.pop(session, None)
        if trailing is None:
            return
        self._started_at[session] = time.monotonic()
        await self._run(_merged(trailing), trailing.workflow_id, trailing.roles)

    async def _run(self, switch: TenantSwitchingInput, workflow_id: str, roles: list[str]) -> None:
        try:
            await self._start(switch, workflow_id, roles)
        except Exception:
            log.exception("tenant_switching could not be started", workflow_id=workflow_id)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _forget_quiet(self, now: float) -> None:
        if len(self._started_at) < 1024:
            return
        for session, at in list(self._started_at.items()):
            if now - at >= self.interval and session not in self._trailing:
                del self._started_at[session]
