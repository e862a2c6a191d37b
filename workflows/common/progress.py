"""The ``progress`` query every workflow exposes, and a small tracker that maintains it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

PROGRESS_QUERY = "progress"


class ProgressState(StrEnum):
    running = "running"
    waiting = "waiting"
    compensating = "compensating"
    completed = "completed"
    failed = "failed"


@dataclass
class Progress:
    step: int
    total: int
    label: str
    percent: int
    state: str = ProgressState.running.value


class ProgressTracker:
    """Holds a workflow's progress; deterministic (pure state, no I/O)."""

    def __init__(self, total: int, label: str = "starting") -> None:
        self.current = Progress(step=0, total=total, label=label, percent=0)

    def advance(self, step: int, label: str, state: ProgressState = ProgressState.running) -> None:
        total = self.current.total
        self.current = Progress(
            step=step, total=total, label=label, percent=int(100 * step / total), state=state.value
        )

    def set_state(self, state: ProgressState, label: str | None = None) -> None:
        self.current = Progress(
            step=self.current.step,
            total=self.current.total,
            label=label or self.current.label,
            percent=100 if state == ProgressState.completed else self.current.percent,
            state=state.value,
        )
