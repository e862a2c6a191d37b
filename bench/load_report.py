"""What a mixed load saw (``bench/mixed_load.py``): each operation kind's counts, error classes
and latency percentiles, the subscriptions' reconnects and events, and the server errors a
chaos run asserts are none. Error classes: ``http_<status>`` (5xx, or a 4xx without a GraphQL
body), ``graphql:<extensions.code>`` (an error without a code is ``INTERNAL_SERVER_ERROR``: an
unexpected exception, masked or not), ``timeout``, ``connection``."""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from bench.load import quantile_ms

#: A GraphQL error without ``extensions.code`` is an exception nobody turned into an answer.
UNCODED = "INTERNAL_SERVER_ERROR"
#: The classes that are the platform's fault whatever the traffic or the outage.
SERVER_ERRORS = frozenset({"http_500", f"graphql:{UNCODED}"})


class Failed(Exception):
    """An operation did not succeed; ``error_class`` says how (see the module docstring)."""

    def __init__(self, error_class: str, detail: str = "") -> None:
        super().__init__(f"{error_class}: {detail}" if detail else error_class)
        self.error_class = error_class


def graphql_error_class(errors: list[Any]) -> str:
    """``graphql:<code>`` of a GraphQL ``errors`` list: an uncoded one first (it is the
    server's fault), else the first error's code."""
    codes = [
        ((e.get("extensions") or {}).get("code") if isinstance(e, dict) else None) or UNCODED
        for e in errors
    ] or [UNCODED]
    return f"graphql:{UNCODED if UNCODED in codes else codes[0]}"


def checked(status: int, body: bytes) -> dict[str, Any]:
    """The ``data`` of a GraphQL answer over HTTP, or ``Failed`` with its error class."""
    if status >= 500:
        raise Failed(f"http_{status}", body[:200].decode(errors="replace"))
    try:
        answer = json.loads(body)
    except ValueError:
        raise Failed(f"http_{status}", "not JSON") from None
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if errors:
        message = str(errors[0].get("message") if isinstance(errors[0], dict) else errors[0])
        raise Failed(graphql_error_class(errors), message[:200])
    if status != 200 or not isinstance(answer, dict) or not isinstance(answer.get("data"), dict):
        raise Failed(f"http_{status}", body[:200].decode(errors="replace"))
    data: dict[str, Any] = answer["data"]
    return data


def error_class(error: BaseException) -> str:
    """The class of whatever an operation raised."""
    if isinstance(error, Failed):
        return error.error_class
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, (OSError, asyncio.IncompleteReadError, EOFError)):
        return "connection"
    try:
        from websockets.exceptions import WebSocketException
    except ImportError:  # pragma: no cover - websockets is a dependency of the gateway
        return type(error).__name__
    if isinstance(error, WebSocketException):
        return "connection"
    return type(error).__name__


@dataclass
class KindStats:
    """The live counters of one operation kind."""

    sent: int = 0
    ok: int = 0
    #: Arrivals that had nothing to do (a ``subscribe`` before any run was started).
    skipped: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    def done(self, latency: float) -> None:
        self.ok += 1
        self.latencies.append(latency)

    def report(self) -> KindReport:
        failed = sum(self.errors.values())
        return KindReport(
            sent=self.sent,
            ok=self.ok,
            errors=dict(sorted(self.errors.items())),
            in_flight=self.sent - self.ok - failed,
            skipped=self.skipped,
            latency_ms=Latency.of(self.latencies),
        )


@dataclass(frozen=True)
class Latency:
    """Milliseconds from when an operation was due (not sent) to its answer; None without any."""

    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None

    @classmethod
    def of(cls, latencies: list[float]) -> Latency:
        def q(quantile: float) -> float | None:
            value = quantile_ms(latencies, quantile)
            return None if math.isnan(value) else round(value, 2)

        return cls(
            q(0.50), q(0.95), q(0.99), round(1000 * max(latencies), 2) if latencies else None
        )


@dataclass(frozen=True)
class KindReport:
    sent: int
    ok: int
    errors: dict[str, int]
    in_flight: int
    skipped: int
    latency_ms: Latency


@dataclass(frozen=True)
class SubscriptionReport:
    #: graphql-transport-ws sockets open now, and how often one was opened again after it
    #: dropped (each socket opens on the first run it is given).
    sockets: int
    reconnects: int
    #: ``workflowProgress`` subscriptions sent (a run's first and every resumption).
    opened: int
    #: ``next`` messages received.
    events: int
    #: Distinct runs followed until a final status.
    runs_followed_to_end: int
    #: Errors a follow met and then resumed past (an outage's ``SERVICE_UNAVAILABLE``, ...).
    interruptions: dict[str, int]


@dataclass(frozen=True)
class LoadReport:
    #: The arrival window (first arrival to stop) and the rate asked for and achieved in it.
    seconds: float
    rate: float
    achieved_rate: float
    kinds: dict[str, KindReport]
    subscriptions: SubscriptionReport
    #: Workflow runs the ``workflow`` mutations started.
    started_runs: int
    #: HTTP 500s and uncoded GraphQL errors, over every kind and the subscriptions'
    #: interruptions: what a chaos run asserts is zero.
    server_errors: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadReport:
        """The report of ``as_dict`` (or of the CLI's JSON file: other keys are left out)."""
        kinds = {
            name: KindReport(**{**k, "latency_ms": Latency(**k["latency_ms"])})
            for name, k in data["kinds"].items()
        }
        own = {f.name for f in fields(cls)}
        return cls(
            **{
                **{key: value for key, value in data.items() if key in own},
                "kinds": kinds,
                "subscriptions": SubscriptionReport(**data["subscriptions"]),
            }
        )

    def table(self) -> str:
        """A plain-text summary: one row per operation kind, then the subscriptions."""
        head = f"{'kind':<10}{'sent':>7}{'ok':>7}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}  errors"
        rows = [
            f"{self.seconds:.1f} s at {self.rate:g}/s asked, {self.achieved_rate:.2f}/s achieved; "
            f"server errors: {self.server_errors}; runs started: {self.started_runs}",
            head,
        ]

        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f}"

        for name, k in self.kinds.items():
            lat = k.latency_ms
            errors = ", ".join(f"{c} {n}" for c, n in k.errors.items()) or "-"
            extra = f" (in flight {k.in_flight})" if k.in_flight else ""
            extra += f" (skipped {k.skipped})" if k.skipped else ""
            rows.append(
                f"{name:<10}{k.sent:>7}{k.ok:>7}{ms(lat.p50):>9}{ms(lat.p95):>9}"
                f"{ms(lat.p99):>9}{ms(lat.max):>9}  {errors}{extra}"
            )
        s = self.subscriptions
        interruptions = ", ".join(f"{c} {n}" for c, n in s.interruptions.items()) or "none"
        rows.append(
            f"subscriptions: {s.sockets} sockets open, {s.reconnects} reconnects, "
            f"{s.opened} opened, {s.events} events, "
            f"{s.runs_followed_to_end} runs followed to the end; interruptions: {interruptions}"
        )
        return "\n".join(rows)


def count_server_errors(*counters: dict[str, int]) -> int:
    return sum(n for counter in counters for c, n in counter.items() if c in SERVER_ERRORS)
