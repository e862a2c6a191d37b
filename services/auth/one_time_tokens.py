"""Redeeming a one-time token from a mail link: find the workflow waiting for it and hand it the
token's hash in an update, which spends the token once. Every way of failing is one answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from services.auth.opaque import hash_token
from services.auth.runtime import AuthRuntime
from services.common import workflow_calls
from services.common.errors import DomainError
from storage.auth.one_time_tokens import OneTimeTokenRepository
from storage.db import transaction
from workflows.auth.contracts import AuthError

T = TypeVar("T")
#: Redeeming runs a few activities; past this the caller gets a 503 and may retry.
UPDATE_TIMEOUT_SECONDS = 20.0


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


#: A spent or unknown token and a run that ended meanwhile (its deadline passed) are one answer.
REDEEM_ERRORS = workflow_calls.WorkflowErrors(
    call="token_redemption",
    not_found=InvalidLinkError,
    failures={AuthError.INVALID_TOKEN: lambda _: InvalidLinkError()},
)


async def waiting_workflow(runtime: AuthRuntime, raw_token: str, purpose: str) -> str:
    """The id of the workflow that issued this still-redeemable token."""
    async with transaction(runtime.resources.database) as db:
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
    return await workflow_calls.update(
        runtime.temporal,
        workflow_id,
        update,
        argument(hash_token(raw_token)),
        result_type=result_type,
        errors=REDEEM_ERRORS,
        answer_seconds=UPDATE_TIMEOUT_SECONDS,
    )
