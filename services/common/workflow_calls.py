"""The one way an HTTP route reaches a workflow: start, run, update, signal or query it, with
Temporal's failures mapped once to the domain's answers (problem+json through ``DomainError``).

- Temporal unreachable or slow (any ``RPCError`` but a gone workflow, a timeout, an update or
  query that got no answer): ``ServiceUnavailableError`` (503), with the caller's message.
- The workflow id is taken (start): ``errors.already_started()``; without one, ``start``
  returns ``None`` so the caller can give its own answer (e.g. "already on its way").
- The workflow is gone (``NOT_FOUND``/``FAILED_PRECONDITION``): ``errors.not_found()``.
- A failed run or update: the ``ApplicationError`` type (an activity's, unwrapped) looked up in
  ``errors.failures`` (keyed by the domain's error enum, e.g. ``AuthError``), else
  ``errors.business`` for other non-retryable failures, else a logged 503.

Callers keep passing the client they hold (the auth runtime's has a request deadline).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.common.errors import DomainError, ServiceUnavailableError
from services.common.logging import get_logger

T = TypeVar("T")
_log = get_logger(__name__)
#: A workflow that ended (or never ran) answers an update or query with one of these.
GONE = (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION)
#: What an unavailable Temporal answers with, like the app's handler for backends that are down.
RETRY_AFTER_SECONDS = 2


def unavailable(detail: str) -> ServiceUnavailableError:
    return ServiceUnavailableError(detail, extra={"retry_after": RETRY_AFTER_SECONDS})


@dataclass(frozen=True)
class WorkflowErrors:
    """How one caller's workflow failures become its domain's HTTP answers."""

    #: Names the call in the log line of an unmapped failure.
    call: str
    #: The 503 detail when Temporal cannot be reached or does not answer in time.
    unavailable: str = "Could not complete this now; try again."
    #: The 503 detail when the run or update failed for a reason the caller does not map.
    failed: str | None = None
    #: The 503 detail for a timeout (no worker answered), if it differs from ``unavailable``.
    timed_out: str | None = None
    already_started: Callable[[], DomainError] | None = None
    not_found: Callable[[], DomainError] | None = None
    #: Business failures by ``ApplicationError.type`` (the domain's error enum).
    failures: Mapping[str, Callable[[ApplicationError], DomainError]] = field(default_factory=dict)
    #: Any other non-retryable ``ApplicationError``; None: a 503.
    business: Callable[[ApplicationError], DomainError] | None = None

    def failure(self, cause: BaseException | None) -> DomainError:
        if isinstance(cause, ActivityError) and isinstance(cause.cause, ApplicationError):
            cause = cause.cause  # a business error raised by an activity the workflow ran
        if isinstance(cause, ApplicationError):
            mapped = self.failures.get(cause.type or "")
            if mapped is not None:
                return mapped(cause)
            if cause.non_retryable and self.business is not None:
                return self.business(cause)
        kind = cause.type if isinstance(cause, ApplicationError) else type(cause).__name__
        _log.warning("workflow_call_failed", call=self.call, type=kind, message=str(cause))
        return ServiceUnavailableError(self.failed or self.unavailable)


def details_of(cause: ApplicationError) -> dict[str, Any]:
    """The first detail of a business error when it is a mapping (extra problem fields)."""
    return cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}


@contextmanager
def mapped(errors: WorkflowErrors) -> Iterator[None]:
    """Map the Temporal failures of the calls in the block (for a call the helpers below do not
    make themselves, e.g. a start inside a domain function). A taken id without
    ``errors.already_started`` stays ``WorkflowAlreadyStartedError``, for the caller."""
    try:
        yield
    except WorkflowAlreadyStartedError as error:
        if errors.already_started is None:
            raise
        raise errors.already_started() from error
    except (WorkflowFailureError, WorkflowUpdateFailedError) as error:
        raise errors.failure(error.cause) from error
    except RPCError as error:
        if error.status in GONE and errors.not_found is not None:
            raise errors.not_found() from error
        raise unavailable(errors.unavailable) from error
    except (
        TimeoutError,
        WorkflowUpdateRPCTimeoutOrCancelledError,
        WorkflowQueryFailedError,
        WorkflowQueryRejectedError,
    ) as error:
        # No worker answered (worker down, or an HTTP-only process without one).
        raise unavailable(errors.timed_out or errors.unavailable) from error


async def _call(
    errors: WorkflowErrors, call: Awaitable[T], answer_seconds: float | None = None
) -> T:
    with mapped(errors):
        async with asyncio.timeout(answer_seconds):
            return await call


async def start(
    client: Client,
    run: Any,
    arg: Any,
    *,
    id: str,
    task_queue: str,
    errors: WorkflowErrors,
    **options: Any,
) -> WorkflowHandle[Any, Any] | None:
    """Start the workflow whose run method is ``run``; None when the id is taken and
    ``errors.already_started`` is not set (the caller answers that case itself)."""
    try:
        return await _call(
            errors, client.start_workflow(run, arg, id=id, task_queue=task_queue, **options)
        )
    except WorkflowAlreadyStartedError:
        return None


async def execute(
    client: Client,
    run: Any,
    arg: Any,
    *,
    id: str,
    task_queue: str,
    errors: WorkflowErrors,
    result_timeout: float,
    **options: Any,
) -> Any:
    """Start the workflow and wait up to ``result_timeout`` seconds for its result."""
    with mapped(errors):
        handle = await client.start_workflow(run, arg, id=id, task_queue=task_queue, **options)
        return await asyncio.wait_for(handle.result(), result_timeout)


async def update(
    client: Client,
    workflow_id: str,
    name: str,
    arg: Any,
    *,
    result_type: type[T],
    errors: WorkflowErrors,
    answer_seconds: float | None = None,
) -> T:
    """Execute the update ``name`` (``arg`` None: no argument) and return its typed result."""
    handle = client.get_workflow_handle(workflow_id)
    args = [] if arg is None else [arg]
    # Updates are not bounded by the client's request deadline (they wait for their handler).
    rpc_timeout = None if answer_seconds is None else timedelta(seconds=answer_seconds)
    call = handle.execute_update(name, args=args, result_type=result_type, rpc_timeout=rpc_timeout)
    return await _call(errors, call, answer_seconds)


async def signal(
    client: Client, workflow_id: str, name: str, arg: Any, *, errors: WorkflowErrors
) -> None:
    handle = client.get_workflow_handle(workflow_id)
    await _call(errors, handle.signal(name, arg))


async def query(
    client: Client,
    workflow_id: str,
    name: str,
    arg: Any,
    *,
    result_type: type[T],
    errors: WorkflowErrors,
) -> T:
    handle = client.get_workflow_handle(workflow_id)
    return await _call(errors, handle.query(name, arg, result_type=result_type))
