"""Typed activity contracts: one object per activity holds its name, the service whose task
queue runs it, its input and output types and its default options. Workflows call it
(``await CONTRACT.execute(Input(...))`` returns the output type) and activities are registered
under it (``@CONTRACT.implement``), so a mismatch on either side is a type error (mypy) and an
implementation with other types is refused at import time.

The name is what histories record: it never changes once a run used it (docs/workers.md).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar, overload

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

from workflows.common.policies import DEFAULT_ACTIVITY_TIMEOUT, DEFAULT_RETRY
from workflows.common.queues import sibling_queue

In = TypeVar("In")
Out = TypeVar("Out")
Owner = TypeVar("Owner")


class ContractMismatchError(TypeError):
    """An implementation whose annotated input or output type is not its contract's."""


@dataclass(frozen=True, eq=False)
class ActivityContract(Generic[In, Out]):
    """One activity: ``name`` (as recorded in histories), ``service`` (its queue is
    ``<prefix>-<service>``), one dataclass in and one out, and the options a call uses unless
    it says otherwise."""

    name: str
    service: str
    input_type: type[In]
    output_type: type[Out]
    start_to_close: timedelta = DEFAULT_ACTIVITY_TIMEOUT
    retry_policy: RetryPolicy = field(default_factory=lambda: DEFAULT_RETRY)
    #: Longest silence between heartbeats of a long activity (None: it does not heartbeat).
    heartbeat: timedelta | None = None

    async def execute(
        self,
        arg: In,
        *,
        start_to_close: timedelta | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> Out:
        """From a workflow: run the activity on its service's queue (derived from this
        workflow's own queue, deterministically) and return its typed result."""
        result = await workflow.execute_activity(
            self.name,
            arg,
            task_queue=sibling_queue(self.service),
            result_type=self.output_type,
            start_to_close_timeout=start_to_close or self.start_to_close,
            retry_policy=retry_policy or self.retry_policy,
            heartbeat_timeout=self.heartbeat,
        )
        return typing.cast(Out, result)

    @overload
    def implement(
        self, fn: Callable[[Owner, In], Awaitable[Out]]
    ) -> Callable[[Owner, In], Awaitable[Out]]: ...

    @overload
    def implement(self, fn: Callable[[In], Awaitable[Out]]) -> Callable[[In], Awaitable[Out]]: ...

    def implement(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """Register ``fn`` (a method of an activities class, or a function) as this activity:
        ``activity.defn(name=self.name)`` once its annotated types are checked to be exactly
        the contract's (they are what Temporal decodes the payloads into)."""
        self.check(fn)
        return activity.defn(name=self.name)(fn)

    def check(self, fn: Callable[..., Any]) -> None:
        """Raise ``ContractMismatchError`` unless ``fn`` takes one annotated argument of the
        input type (besides an unannotated ``self``) and is annotated to return the output."""
        where = f"{getattr(fn, '__qualname__', fn)!r} implementing {self.name!r}"
        try:
            hints = typing.get_type_hints(fn)
        except NameError as error:
            raise ContractMismatchError(
                f"{where}: its annotations must name types importable at import time ({error})"
            ) from error
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if not (p.name in ("self", "cls") and p.name not in hints)
        ]
        if len(params) != 1 or params[0].kind not in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            raise ContractMismatchError(f"{where}: takes exactly one input argument")
        got_in, got_out = hints.get(params[0].name), hints.get("return")
        if got_in is not self.input_type:
            raise ContractMismatchError(
                f"{where}: input is {_name(got_in)}, the contract says {_name(self.input_type)}"
            )
        if got_out is not self.output_type:
            raise ContractMismatchError(
                f"{where}: returns {_name(got_out)}, the contract says {_name(self.output_type)}"
            )


def _name(annotation: object) -> str:
    return getattr(annotation, "__qualname__", None) or repr(annotation)
