"""Redeeming a one-time token from a mail link: find the workflow waiting for it and hand it the
token's hash in an update, which spends the token once. Every way of failing is one answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from services.auth.opaque import hash_token
from services.auth.runtime import AuthRuntime
from services.common.errors import DomainError, ServiceUnavailableError
from services.common.logging import get_logger
from storage.auth.one_time_tokens import OneTimeTokenRepository
from storage.db import transaction
from workflows.auth.contracts import AuthError

T = TypeVar("T")
_log = get_logger(__name__)
#: Redeeming runs a few activities; past this the caller gets a 503 and may retry.
UPDATE_TIMEOUT = timedelta(seconds=20)


def link_token_purpose(purpose: str, workflow_id: str) -> str:
    """What a sealed link token is bound to: its purpose and the workflow it travels in (a
    sealed token lifted from one run's history opens in no other run, nor as another kind)."""
    return f"link-token:{purpose}:{workflow_id}"


class InvalidLinkError(DomainError):
    """Unknown, spent and expired tokens all answer this, so a guess learns nothing."""

    status = 400
    type = "https://adx.dev/problems/invalid-token"
    title = "Invalid or expired link"

    def __init__(self) -> None:
        super().__init__("This link is invalid or has expired. Request a new one.")


async def waiting_workflow(runtime: AuthRuntime, raw_token: str, purpose: str) -> str:
    """The id of the workflow that issued this still-redeemable token."""
    async with transaction(runtime.resources.sessions) as db:
        workflow_id = await OneTimeTokenRepository(db).waiting_workflow(
            hash_token(raw_token), purpose
        )
    if workflow_id is None:
        raise InvalidLinkError()
    return workflow_id


async def redeem(
    runtime: AuthRuntime,
    raw_token: str,
    *,
    purpose: str,
    update: str,
    argument: Callable[[str], object],
    result_type: type[T],
    workflow_id: str | None = None,
) -> T:
    """Send ``update`` with ``argument(token_hash)`` to the token's workflow and return its
    answer. The workflow spends the token (single use is enforced in the database there)."""
    workflow_id = workflow_id or await waiting_workflow(runtime, raw_token, purpose)
    handle = runtime.temporal.get_workflow_handle(workflow_id)
    try:
        return await handle.execute_update(  # type: ignore[no-any-return]
            update,
            argument(hash_token(raw_token)),
            result_type=result_type,
            rpc_timeout=UPDATE_TIMEOUT,
        )
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        if isinstance(cause, ApplicationError) and cause.type == AuthError.INVALID_TOKEN:
            raise InvalidLinkError() from error
        _log.warning("token_redemption_failed", purpose=purpose, error=str(cause))
        raise ServiceUnavailableError("Could not complete this now; try again.") from error
    except RPCError as error:
        # The run ended between the lookup and the update (its deadline passed).
        if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise InvalidLinkError() from error
        raise ServiceUnavailableError("Could not complete this now; try again.") from error
    except WorkflowUpdateRPCTimeoutOrCancelledError as error:
        raise ServiceUnavailableError("Could not complete this now; try again.") from error
