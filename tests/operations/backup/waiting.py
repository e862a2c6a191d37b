"""Two test workflows that wait durably: on a timer (its length from input) and on a signal."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow


@workflow.defn(name="backup_test_timer")
class TimerWait:
    @workflow.run
    async def run(self, seconds: float) -> str:
        await workflow.sleep(timedelta(seconds=seconds))
        return "fired"


@workflow.defn(name="backup_test_signal")
class SignalWait:
    def __init__(self) -> None:
        self.value: str | None = None

    @workflow.signal
    def release(self, value: str) -> None:
        self.value = value

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.value is not None)
        return f"released:{self.value}"
