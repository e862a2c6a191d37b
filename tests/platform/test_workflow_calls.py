"""services/common/workflow_calls.py: Temporal's failures become the domain's answers, once."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    RetryState,
    WorkflowAlreadyStartedError,
)
from temporalio.service import RPCError, RPCStatusCode

from services.common import workflow_calls
from services.common.errors import ConflictError, NotFoundError, ServiceUnavailableError
from workflows.auth.contracts import AuthError

ERRORS = workflow_calls.WorkflowErrors(
    call="test",
    unavailable="down; try again",
    not_found=lambda: NotFoundError("gone"),
    failures={AuthError.INVALID_TOKEN: lambda cause: ConflictError(cause.message)},
)


class _Handle:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def execute_update(self, *_: Any, **__: Any) -> Any:
        raise self.error

    async def signal(self, *_: Any, **__: Any) -> None:
        raise self.error


class _Client:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def get_workflow_handle(self, _: str) -> _Handle:
        return _Handle(self.error)

    async def start_workflow(self, *_: Any, **__: Any) -> Any:
        raise self.error


async def _update(error: BaseException) -> Any:
    client: Any = _Client(error)
    return await workflow_calls.update(client, "wf", "u", None, result_type=str, errors=ERRORS)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RPCError("down", RPCStatusCode.UNAVAILABLE, b""), ServiceUnavailableError),
        (RPCError("slow", RPCStatusCode.DEADLINE_EXCEEDED, b""), ServiceUnavailableError),
        (TimeoutError(), ServiceUnavailableError),
        (RPCError("gone", RPCStatusCode.NOT_FOUND, b""), NotFoundError),
    ],
)
async def test_rpc_failures_are_a_503_or_the_domains_not_found(
    error: BaseException, expected: type
) -> None:
    with pytest.raises(expected) as raised:
        await _update(error)
    if isinstance(raised.value, ServiceUnavailableError):
        assert raised.value.detail == "down; try again"
        assert raised.value.extra["retry_after"] >= 1, "a 503 without Retry-After"


async def test_a_failed_update_maps_its_business_type_and_nothing_else() -> None:
    mapped = ApplicationError("spent", type=AuthError.INVALID_TOKEN, non_retryable=True)
    other = ApplicationError("boom", type="SomethingElse")

    with pytest.raises(ConflictError, match="spent"):
        await _update(WorkflowUpdateFailedError(mapped))
    with pytest.raises(ServiceUnavailableError):
        await _update(WorkflowUpdateFailedError(other))


async def test_a_taken_id_is_none_unless_the_domain_answers_it() -> None:
    client: Any = _Client(WorkflowAlreadyStartedError("wf", "T"))

    started = await workflow_calls.start(
        client, object(), None, id="wf", task_queue="q", errors=ERRORS
    )
    assert started is None, "a taken id without already_started is the caller's to answer"


async def test_a_business_error_of_an_activity_the_update_ran_is_the_domains() -> None:
    cause = ApplicationError("spent", type=AuthError.INVALID_TOKEN, non_retryable=True)
    activity_error = ActivityError(
        "activity failed",
        scheduled_event_id=1,
        started_event_id=2,
        identity="worker",
        activity_type="auth.consume_one_time_token",
        activity_id="1",
        retry_state=RetryState.NON_RETRYABLE_FAILURE,
    )
    activity_error.__cause__ = cause

    with pytest.raises(ConflictError, match="spent"):
        await _update(WorkflowUpdateFailedError(activity_error))


async def test_a_signal_to_an_unreachable_temporal_is_a_503() -> None:
    client: Any = _Client(RPCError("down", RPCStatusCode.UNAVAILABLE, b""))

    with pytest.raises(ServiceUnavailableError):
        await workflow_calls.signal(client, "wf", "s", None, errors=ERRORS)
