"""HTTP load, with the CPU each process spent meanwhile: closed-loop (``drive``: N clients, each
one request at a time on a kept-alive connection; completions inside the measuring window
count) and fixed-rate (``paced``: requests sent on a schedule whatever the answers, as real
clients arrive)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import psutil

#: Processes whose CPU time is reported: this run's by pid, shared servers by executable name.
SHARED_SERVERS = {"postgres": "postgres", "redis-server": "redis"}
#: Roles whose main thread (the event loop) is reported apart from their worker threads.
SPLIT_MAIN_THREAD = {"auth"}


class OperationError(Exception):
    """One benchmarked request did not succeed (its message says how)."""


def quantile_ms(latencies: list[float], quantile: float) -> float:
    """The ``quantile`` of ``latencies`` (seconds) in milliseconds; NaN for none."""
    if not latencies:
        return float("nan")
    ordered = sorted(latencies)
    return 1000 * ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]


@dataclass
class PhaseResult:
    name: str
    clients: int
    seconds: float
    completed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.completed / self.seconds

    def latency_ms(self, quantile: float) -> float:
        return quantile_ms(self.latencies, quantile)

    def summary(self) -> dict[str, object]:
        return {
            "clients": self.clients,
            "seconds": self.seconds,
            "completed": self.completed,
            "per_second": round(self.per_second, 2),
            "errors": dict(self.errors),
            "latency_ms": {
                "mean": round(1000 * statistics.fmean(self.latencies), 2)
                if self.latencies
                else None,
                "p50": round(self.latency_ms(0.50), 2),
                "p95": round(self.latency_ms(0.95), 2),
                "p99": round(self.latency_ms(0.99), 2),
            },
            "cpu_seconds": {k: round(v, 3) for k, v in self.cpu_seconds.items()},
            "cpu_ms_per_op": {
                k: round(1000 * v / self.completed, 3) if self.completed else None
                for k, v in self.cpu_seconds.items()
            },
        }


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds (user + system) so far: per process of interest, and the whole machine busy."""

    processes: dict[int, tuple[str, float]]
    machine_busy: float
    #: Parts of each service process, keyed by pid: its main thread (the event loop; the rest
    #: is its thread pool, i.e. argon2) and its kernel time (mostly socket I/O).
    parts: dict[int, dict[str, float]]

    @classmethod
    def take(cls, roles: Mapping[int, str]) -> CpuSnapshot:
        """This process, ``roles`` (pid -> role) and every process of a PostgreSQL or Redis
        server on the machine (shared servers are not ours alone, but serve us meanwhile)."""
        known = {os.getpid(): "bench client", **roles}
        processes: dict[int, tuple[str, float]] = {}
        parts: dict[int, dict[str, float]] = {}
        for proc in psutil.process_iter(["pid", "name", "cpu_times"]):
            times = proc.info["cpu_times"]
            role = known.get(proc.info["pid"]) or SHARED_SERVERS.get(proc.info["name"] or "")
            if times is not None and role is not None:
                processes[proc.info["pid"]] = (role, times.user + times.system)
            if role in SPLIT_MAIN_THREAD and times is not None:
                with contextlib.suppress(psutil.Error):
                    main = [t for t in proc.threads() if t.id == proc.info["pid"]]
                    parts[proc.info["pid"]] = {
                        f"{role} main thread": sum(t.user_time + t.system_time for t in main),
                        f"{role} kernel": times.system,
                    }
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return cls(processes, busy, parts)

    def since(self, before: CpuSnapshot) -> dict[str, float]:
        """CPU seconds per role between ``before`` and this snapshot; ``background`` is whatever
        else kept the machine busy (other users of a shared machine skew every figure).

        A process that exited meanwhile (a pool connection's backend) loses its share; one that
        started counts whole."""
        totals: defaultdict[str, float] = defaultdict(float)
        for pid, (role, seconds) in self.processes.items():
            previous = before.processes.get(pid)
            totals[role] += seconds - (previous[1] if previous and previous[0] == role else 0.0)
        ours = sum(totals.values())
        totals["background"] = max(0.0, self.machine_busy - before.machine_busy - ours)
        for pid, now in self.parts.items():  # parts of their process, not added to ``ours``
            for part, seconds in now.items():
                totals[part] += seconds - before.parts.get(pid, {}).get(part, 0.0)
        return dict(totals)


def wait_until_quiet(timeout: float, threshold: float = 0.05) -> float:
    """Wait (up to ``timeout`` s) for a second in which the machine is at most ``threshold``
    busy; returns the busy share of the last second (on a shared machine, other work skews)."""
    deadline = time.monotonic() + timeout
    while True:
        busy = psutil.cpu_percent(interval=1.0) / 100
        if busy <= threshold or time.monotonic() >= deadline:
            return busy


async def drive(
    name: str,
    operation: Callable[[int], Awaitable[None]],
    *,
    clients: int,
    warmup: float,
    duration: float,
    roles: Mapping[int, str],
) -> PhaseResult:
    """Run ``operation(client_index)`` in a loop on ``clients`` coroutines: ``warmup`` seconds
    uncounted, then ``duration`` seconds counted (completions inside the window)."""
    result = PhaseResult(name=name, clients=clients, seconds=duration)
    begin = time.perf_counter() + warmup
    end = begin + duration

    async def client(index: int) -> None:
        while (started := time.perf_counter()) < end:
            try:
                await operation(index)
                error = None
            except OperationError as failure:
                error = str(failure)
            except Exception as failure:  # a benchmark reports every failure, and goes on
                error = type(failure).__name__
            done = time.perf_counter()
            if begin <= done < end:
                if error is None:
                    result.completed += 1
                    result.latencies.append(done - started)
                else:
                    result.errors[error] += 1

    await asyncio.gather(_meter(result, begin, end, roles), *(client(i) for i in range(clients)))
    return result


async def _meter(result: PhaseResult, begin: float, end: float, roles: Mapping[int, str]) -> None:
    """The CPU each process spent between ``begin`` and ``end`` (``time.perf_counter()``)."""
    await asyncio.sleep(max(0.0, begin - time.perf_counter()))
    before = CpuSnapshot.take(roles)
    await asyncio.sleep(max(0.0, end - time.perf_counter()))
    result.cpu_seconds = CpuSnapshot.take(roles).since(before)


class Connection(Protocol):
    async def close(self) -> None: ...


C = TypeVar("C", bound=Connection)


class Pool(Generic[C]):
    """Kept-alive connections, one request at a time each: ``take`` an idle one (``connect()``
    opens another when all are busy), ``give`` it back; ``broken`` closes it first (it opens
    again on its next use)."""

    def __init__(self, connect: Callable[[], C]) -> None:
        self._connect = connect
        self._idle: list[C] = []
        self.opened: list[C] = []

    def take(self) -> C:
        if self._idle:
            return self._idle.pop()
        connection = self._connect()
        self.opened.append(connection)
        return connection

    def give(self, connection: C) -> None:
        self._idle.append(connection)

    async def broken(self, connection: C) -> None:
        await connection.close()
        self._idle.append(connection)

    async def close(self) -> None:
        for connection in self.opened:
            await connection.close()


async def fixed_rate(
    rate: float,
    one: Callable[[int, float], Coroutine[Any, Any, None]],
    *,
    first: float,
    end: Callable[[], float],
) -> int:
    """Start ``one(index, due)`` at ``due = first + index / rate`` (``time.perf_counter()``)
    for every ``due`` before ``end()``, whatever the answers (open loop: a slow answer delays
    no later arrival); ``end`` is read again while waiting, so lowering it stops the arrivals
    within a quarter of a second. Returns how many were started, once all have finished."""
    running: set[asyncio.Task[None]] = set()
    index = 0
    while (due := first + index / rate) < end():
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(min(delay, 0.25))
            continue
        task = asyncio.create_task(one(index, due))
        running.add(task)
        task.add_done_callback(running.discard)
        index += 1
    await asyncio.gather(*running)
    return index


async def paced(
    name: str,
    operation: Callable[[C], Awaitable[None]],
    *,
    connect: Callable[[], C],
    rate: float,
    warmup: float,
    duration: float,
    roles: Mapping[int, str],
) -> PhaseResult:
    """Fixed-rate (open-loop) load: one ``operation(connection)`` every ``1 / rate`` seconds
    whatever the answers (``fixed_rate``), each on an idle kept-alive connection of a ``Pool``;
    ``warmup`` seconds uncounted, then the requests *due* within ``duration`` seconds counted.
    A latency runs from the moment the request was due, not sent: a stall of the server or of
    this loop counts against every request it held back (no coordinated omission). ``clients``
    of the result is how many connections it took."""
    result = PhaseResult(name=name, clients=0, seconds=duration)
    pool = Pool(connect)
    first = time.perf_counter() + 0.01
    begin = first + warmup
    end = begin + duration

    async def one(_: int, due: float) -> None:
        connection = pool.take()
        try:
            await operation(connection)
            error = None
        except OperationError as failure:
            error = str(failure)
            pool.give(connection)
        except Exception as failure:  # a benchmark reports every failure, and goes on
            error = type(failure).__name__
            await pool.broken(connection)
        else:
            pool.give(connection)
        if begin <= due < end:
            if error is None:
                result.completed += 1
                result.latencies.append(time.perf_counter() - due)
            else:
                result.errors[error] += 1

    try:
        await asyncio.gather(
            _meter(result, begin, end, roles), fixed_rate(rate, one, first=first, end=lambda: end)
        )
    finally:
        await pool.close()
    result.clients = len(pool.opened)
    return result
