"""A chaos run's verdict: every run the load started closed (completed, or failed after
compensating), nothing duplicated (rows, mails, blobs: ``bench/chaos/ledger.py``), no HTTP 500 or
``INTERNAL_SERVER_ERROR`` seen by a client, and the platform back by itself after the fault, with
the figures (counts, error classes, time to recover) behind each."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.chaos.ledger import count_effects
from bench.chaos.runs import NOT_FOUND, stack_client, wait_closed
from bench.chaos.stack import ChaosStack, Fault
from bench.load_report import LoadReport
from bench.mixed_load import MixedLoad
from services.devstack.processes import DevStackError

#: Close statuses that count as a run's proper end (a failed run compensated before failing:
#: every platform workflow is a saga, and the ledger checks it left nothing behind).
PROPER_ENDS = frozenset({"COMPLETED", "FAILED"})


@dataclass
class Verdict:
    scenario: str
    passed: bool
    reasons: list[str]
    figures: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "passed": self.passed,
            "reasons": self.reasons,
            "figures": self.figures,
        }


@dataclass(frozen=True)
class _Sample:
    at: float
    ok: dict[str, int]
    errors: dict[str, dict[str, int]]


@dataclass
class RecoveryWatch:
    """Samples the load's counters every ``every`` seconds while it runs, so the recovery can be
    read afterwards: the first moment after a fault's end by which every operation kind has
    succeeded again ("the first fully successful request after the fault")."""

    load: MixedLoad
    every: float = 0.2
    samples: list[_Sample] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def _sample(self) -> None:
        report = self.load.report()
        self.samples.append(
            _Sample(
                time.monotonic(),
                {kind: k.ok for kind, k in report.kinds.items()},
                {kind: dict(k.errors) for kind, k in report.kinds.items()},
            )
        )

    async def _run(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(self.every)

    def start(self) -> RecoveryWatch:
        self._task = asyncio.create_task(self._run(), name="recovery-watch")
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sample()

    def request_kinds(self) -> list[str]:
        """The request/answer kinds the load sends (a ``subscribe`` succeeds only at its run's
        end, so it would measure the runs' length, not the recovery: the verdict checks every
        follow reached its end instead)."""
        last = self.samples[-1].ok if self.samples else {}
        return [kind for kind in last if kind != "subscribe"]

    def recovery_seconds(
        self, fault_end: float, kinds: Sequence[str] | None = None
    ) -> float | None:
        """Seconds from ``fault_end`` until every kind in ``kinds`` (default: the request
        kinds) had a success after it; None until then."""
        kinds = self.request_kinds() if kinds is None else kinds
        before = [s for s in self.samples if s.at <= fault_end]
        if not before:
            return None
        base = before[-1]
        for sample in self.samples:
            if sample.at > fault_end and all(
                sample.ok.get(k, 0) > base.ok.get(k, 0) for k in kinds
            ):
                return round(sample.at - fault_end, 2)
        return None

    async def until_recovered(self, fault_end: float, within: float) -> float | None:
        """Wait (at most ``within`` s) until :meth:`recovery_seconds` has an answer."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while (recovered := self.recovery_seconds(fault_end)) is None:
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(self.every)
        return recovered

    def errors_since(self, moment: float) -> dict[str, dict[str, int]]:
        """Error classes counted after ``moment`` (per kind), from the sample at or before it."""
        before = [s for s in self.samples if s.at <= moment]
        base = before[-1].errors if before else {}
        last = self.samples[-1].errors if self.samples else {}
        since: dict[str, dict[str, int]] = {}
        for kind, errors in last.items():
            diff = {c: n - base.get(kind, {}).get(c, 0) for c, n in errors.items()}
            if any(diff.values()):
                since[kind] = {c: n for c, n in diff.items() if n}
        return since


def last_fault_end(faults: Sequence[Fault]) -> float | None:
    return max((f.ended for f in faults if f.ended is not None), default=None)


def _fault_figures(faults: Sequence[Fault]) -> list[dict[str, Any]]:
    return [
        {"label": f.label, "seconds": round(f.seconds, 2) if f.seconds else None, **f.details}
        for f in faults
    ]


async def judge(
    stack: ChaosStack,
    load: MixedLoad,
    watch: RecoveryWatch,
    *,
    scenario: str,
    faults: Sequence[Fault],
    restarts_before: int,
    close_within: float = 180.0,
) -> Verdict:
    """Wait (at most ``close_within`` s) for the load's runs to close, count, and decide."""
    reasons: list[str] = []
    report: LoadReport = load.report()

    try:
        ready_after = await asyncio.to_thread(stack.wait_ready, 120.0)
    except DevStackError as error:
        ready_after = None
        reasons.append(f"the platform is not ready again without a manual step: {error}")

    client = await stack_client(stack)
    census = await wait_closed(client, load.started_runs, within=close_within)
    counts = census.counts()
    improper = {s: n for s, n in counts.items() if s not in PROPER_ENDS}
    if improper:
        reasons.append(f"runs neither completed nor compensated: {improper}")
    if counts.get(NOT_FOUND):
        reasons.append(f"{counts[NOT_FOUND]} started runs are unknown to Temporal (lost)")
    if not load.started_runs:
        reasons.append("the load started no workflow run: nothing was put at risk")

    ledger = await count_effects(stack, census.statuses)
    for label, found in (
        ("duplicated", ledger.duplicates),
        ("incomplete", ledger.incomplete),
        ("left behind", ledger.residue),
    ):
        if found:
            reasons.append(f"{len(found)} {label}: " + "; ".join(found[:5]))

    unfinished = report.kinds["subscribe"].errors if "subscribe" in report.kinds else {}
    if sum(unfinished.values()):
        reasons.append(f"subscriptions that never saw their run's end: {unfinished}")
    if report.server_errors:
        reasons.append(f"clients saw {report.server_errors} HTTP 500 / INTERNAL_SERVER_ERROR")

    fault_end = last_fault_end(faults)
    recovery = watch.recovery_seconds(fault_end) if fault_end is not None else None
    if fault_end is None:
        reasons.append("the scenario recorded no fault")
    elif recovery is None:
        kinds = ", ".join(watch.request_kinds())
        reasons.append(f"not every kind of operation ({kinds}) succeeded after the fault")

    restarts = stack.restarts[restarts_before:]
    # A process that died of the fault and was restarted would hide a missing reconnect: only
    # the processes the scenario killed itself may have been restarted.
    begun = min((f.started for f in faults), default=0.0)
    killed = {name for name, at in stack.kills if at >= begun}
    crashed = sorted({r.name for r in restarts if r.name not in killed})
    if crashed:
        reasons.append(f"processes died of the fault and needed a restart: {', '.join(crashed)}")
    figures: dict[str, Any] = {
        "faults": _fault_figures(faults),
        "recovery_seconds": recovery,
        "ready_again_seconds": round(ready_after, 2) if ready_after is not None else None,
        "supervisor_restarts": dict(
            sorted(
                (name, sum(1 for r in restarts if r.name == name))
                for name in {r.name for r in restarts}
            )
        ),
        "runs": {
            "started": len(load.started_runs),
            **counts,
            "close_wait_seconds": round(census.waited_seconds, 2),
        },
        "effects": ledger.figures,
        "server_errors": report.server_errors,
        "client_errors": {kind: k.errors for kind, k in report.kinds.items() if k.errors},
        "errors_after_recovery": (
            watch.errors_since(fault_end + recovery)
            if fault_end is not None and recovery is not None
            else None
        ),
        "operations": {kind: {"sent": k.sent, "ok": k.ok} for kind, k in report.kinds.items()},
        "subscriptions": {
            "reconnects": report.subscriptions.reconnects,
            "runs_followed_to_end": report.subscriptions.runs_followed_to_end,
            "interruptions": report.subscriptions.interruptions,
        },
        "achieved_rate": report.achieved_rate,
        "load_seconds": report.seconds,
    }
    return Verdict(scenario, not reasons, reasons, figures)
