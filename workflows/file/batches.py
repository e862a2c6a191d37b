"""The batch loop ``file_migration`` and ``file_purge`` share: list the next batch after a
cursor (the totals with the first), handle it, move the cursor, and continue as new every
``batches_per_run`` batches or when Temporal suggests it. Deterministic: it only awaits what
its callers give it and reads ``workflow.info()``; it issues the same commands, in the same
order, as the two loops it replaced, so their histories replay."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from temporalio import workflow


class Item(Protocol):
    @property
    def file_id(self) -> str: ...


class Listed(Protocol):
    """A listing activity's answer: the batch and the totals from the cursor on."""

    @property
    def items(self) -> Sequence[Item]: ...

    @property
    def remaining_files(self) -> int: ...

    @property
    def remaining_bytes(self) -> int: ...


class Counts(Protocol):
    """The fields of a run's report that the loop keeps."""

    total_files: int | None
    total_bytes: int | None
    batches: int


class Cursor(Protocol):
    """The fields of a run's input the loop reads: where to go on from, and how far."""

    @property
    def after(self) -> str | None: ...

    @property
    def batch_size(self) -> int: ...

    @property
    def batches_per_run(self) -> int: ...


L = TypeVar("L", bound=Listed)


def step_key(step: str) -> str:
    """An activity's idempotency key: unique per run and step."""
    info = workflow.info()
    return f"{info.workflow_id}:{info.run_id}:{step}"


async def in_batches(
    report: Counts,
    cursor: Cursor,
    *,
    listing: Callable[[str | None], Awaitable[L]],
    handle: Callable[[list[str], L], Awaitable[None]],
    carry_on: Callable[[str | None], object],
) -> None:
    """From ``cursor.after`` until a batch comes back short: ``listing(after)``, the first
    one's totals into ``report``, then ``handle(ids, listed)``. ``carry_on(after)`` is the
    input of the run that continues as new (it never returns)."""
    after, batches = cursor.after, 0
    while True:
        if batches >= cursor.batches_per_run or workflow.info().is_continue_as_new_suggested():
            workflow.continue_as_new(carry_on(after))
        listed = await listing(after)
        if report.total_files is None:
            report.total_files = listed.remaining_files
            report.total_bytes = listed.remaining_bytes
        if not listed.items:
            return
        ids = [item.file_id for item in listed.items]
        await handle(ids, listed)
        after = ids[-1]
        batches += 1
        report.batches += 1
        if len(ids) < cursor.batch_size:
            return
