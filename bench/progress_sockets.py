"""graphql-transport-ws connections following workflow runs' ``workflowProgress`` to their end,
surviving the gateway: a dropped socket is opened again (with back-off) and every run it was
following is subscribed again, which answers the run's current state and goes on from there; a
subscription that ends without a final status (an outage's error, the gateway's lifetime cap)
is resumed too, until the follow's deadline."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.load_report import SubscriptionReport, graphql_error_class

PROGRESS = """subscription($id: ID!, $token: String) {
  workflowProgress(id: $id, accessToken: $token) { status progress { step } }
}"""
#: How long a follow waits before subscribing again after its subscription ended early.
RESUME_SECONDS = 0.5
#: Back-off of a socket's reconnection attempts, doubling from the first to the last.
RECONNECT_SECONDS = (0.25, 2.0)


@dataclass(eq=False)
class Follow:
    """One run being followed: when its first state arrived, its final status once seen, the
    last error met on the way."""

    run_id: str
    token: str | None
    first_event: float | None = None  # time.perf_counter()
    final: str | None = None
    last_error: str | None = None
    subscription: str | None = None  # its current subscription id on the socket
    interrupted: bool = False  # its current subscription answered an error
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class ProgressSockets:
    """``count`` sockets to ``ws_url`` (anonymous: each run is followed with its own access
    token); ``follow`` spreads the runs over them round-robin. Sockets open on first use."""

    def __init__(self, ws_url: str, count: int) -> None:
        self._sockets = [_Socket(ws_url, self) for _ in range(max(1, count))]
        self._turn = itertools.count()
        self.opened = 0
        self.events = 0
        self.followed_to_end: set[str] = set()
        self.interruptions: Counter[str] = Counter()

    async def follow(self, run_id: str, token: str | None, within: float) -> Follow:
        """Until the run's final status was seen and its subscription completed, or ``within``
        seconds; the ``Follow`` says which."""
        socket = self._sockets[next(self._turn) % len(self._sockets)]
        return await socket.follow(Follow(run_id, token), within)

    def report(self) -> SubscriptionReport:
        return SubscriptionReport(
            sockets=sum(1 for s in self._sockets if s.is_open),
            reconnects=sum(s.reconnects for s in self._sockets),
            opened=self.opened,
            events=self.events,
            runs_followed_to_end=len(self.followed_to_end),
            interruptions=dict(sorted(self.interruptions.items())),
        )

    async def close(self) -> None:
        for socket in self._sockets:
            await socket.close()


class _Socket:
    def __init__(self, url: str, shared: ProgressSockets) -> None:
        self._url = url
        self._shared = shared
        self._ws: Any = None
        self._task: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._active: set[Follow] = set()
        self._by_id: dict[str, Follow] = {}
        self._later: set[asyncio.Task[None]] = set()
        self.connected_once = False
        self.reconnects = 0

    @property
    def is_open(self) -> bool:
        return self._ws is not None

    async def follow(self, follow: Follow, within: float) -> Follow:
        self._active.add(follow)
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        await self._subscribe(follow)
        try:
            await asyncio.wait_for(follow.ended.wait(), within)
        except TimeoutError:
            pass
        finally:
            self._active.discard(follow)
            if follow.subscription is not None:  # still subscribed: stop the server's stream
                self._by_id.pop(follow.subscription, None)
                await self._send({"id": follow.subscription, "type": "complete"})
        return follow

    async def _run(self) -> None:
        import websockets

        delay = RECONNECT_SECONDS[0]
        while True:
            try:
                async with websockets.connect(
                    self._url,
                    subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                    open_timeout=10,
                    ping_interval=5,  # a gateway that hangs, not only one that dies, is noticed
                    ping_timeout=20,  # generous: a loaded machine answers late
                ) as ws:
                    await ws.send(json.dumps({"type": "connection_init"}))
                    ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if ack.get("type") != "connection_ack":
                        raise ConnectionError(f"no connection_ack: {str(ack)[:100]}")
                    self.reconnects += self.connected_once
                    self.connected_once = True
                    delay = RECONNECT_SECONDS[0]
                    self._ws = ws
                    self._by_id.clear()
                    for follow in list(self._active):
                        follow.subscription = None
                        await self._subscribe(follow)
                    async for raw in ws:
                        await self._handle(json.loads(raw))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: S110 - a dropped or refused socket is opened again
                pass
            finally:
                self._ws = None
            await asyncio.sleep(delay)
            delay = min(2 * delay, RECONNECT_SECONDS[1])

    async def _subscribe(self, follow: Follow) -> None:
        if self._ws is None or follow.ended.is_set() or follow.subscription is not None:
            return  # subscribed on (re)connection
        follow.subscription = str(next(self._ids))
        follow.interrupted = False
        self._by_id[follow.subscription] = follow
        self._shared.opened += 1
        variables = {"id": follow.run_id, "token": follow.token}
        await self._send(
            {
                "id": follow.subscription,
                "type": "subscribe",
                "payload": {"query": PROGRESS, "variables": variables},
            }
        )

    async def _send(self, message: dict[str, Any]) -> None:
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):  # a dropped socket: the reconnection resends
                await ws.send(json.dumps(message))

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "ping":
            await self._send({"type": "pong"})
            return
        follow = self._by_id.get(str(message.get("id")))
        if follow is None:
            return
        if kind == "next":
            self._shared.events += 1
            payload = message.get("payload") or {}
            if payload.get("errors"):
                self._interrupted(follow, graphql_error_class(payload["errors"]))
            elif (run := (payload.get("data") or {}).get("workflowProgress")) is not None:
                if follow.first_event is None:
                    follow.first_event = time.perf_counter()
                if run.get("status") != "RUNNING":
                    follow.final = run.get("status")
        elif kind in ("complete", "error"):
            self._by_id.pop(str(message.get("id")), None)
            follow.subscription = None
            if kind == "error":
                self._interrupted(follow, graphql_error_class(message.get("payload") or []))
            if follow.final is not None:
                self._shared.followed_to_end.add(follow.run_id)
                follow.ended.set()
                return
            if kind == "complete" and not follow.interrupted:
                self._interrupted(follow, "ended_early")
            task = asyncio.create_task(self._resume(follow))
            self._later.add(task)
            task.add_done_callback(self._later.discard)

    def _interrupted(self, follow: Follow, error_class: str) -> None:
        follow.last_error = error_class
        follow.interrupted = True
        self._shared.interruptions[error_class] += 1

    async def _resume(self, follow: Follow) -> None:
        await asyncio.sleep(RESUME_SECONDS)
        if follow in self._active:
            await self._subscribe(follow)

    async def close(self) -> None:
        tasks = [*self._later, *([self._task] if self._task else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
