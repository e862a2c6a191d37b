"""A workflow waiting for its one-time token: an update redeems it (one redemption at a time, the
token spent once in the database), a deadline closes the gate. Deterministic (no I/O but the
consume activity)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.auth.contracts import (
        CONSUME_ONE_TIME_TOKEN,
        AuthError,
        ConsumeOneTimeTokenInput,
    )

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def invalid_token() -> ApplicationError:
    """One answer for unknown, spent, expired, busy and closed: the caller learns nothing more."""
    return ApplicationError(
        "invalid or expired token", type=AuthError.INVALID_TOKEN, non_retryable=True
    )


class TokenGate:
    def __init__(self, purpose: str) -> None:
        self.purpose = purpose
        self.opened = False
        self.closed = False
        self.busy = False
        self.passed = False

    def open(self) -> None:
        """The token exists: from now on an update may redeem it."""
        self.opened = True

    def check(self, token_hash: str) -> None:
        """For update validators (a rejected update leaves no trace in the history)."""
        if not _SHA256_HEX.fullmatch(token_hash):
            raise invalid_token()
        if not self.opened or self.closed or self.busy or self.passed:
            raise invalid_token()

    @asynccontextmanager
    async def redeem(self, token_hash: str) -> AsyncIterator[str]:
        """Spend the token and yield its user id; leaving the block without an error passes the
        gate. One redemption at a time: the check and ``busy`` are set before the first await."""
        self.check(token_hash)
        self.busy = True
        try:
            consumed = await CONSUME_ONE_TIME_TOKEN.execute(
                ConsumeOneTimeTokenInput(
                    token_hash=token_hash,
                    purpose=self.purpose,
                    workflow_id=workflow.info().workflow_id,
                )
            )
            if consumed.user_id is None:
                raise invalid_token()
            yield consumed.user_id
            self.passed = True
        finally:
            self.busy = False

    async def wait(self, deadline: timedelta) -> bool:
        """True once a redemption passed, False at the deadline (after letting a redemption that
        is under way finish). Either way the gate is closed afterwards."""
        try:
            await workflow.wait_condition(lambda: self.passed, timeout=deadline)
        except TimeoutError:
            await workflow.wait_condition(lambda: not self.busy)
        self.closed = True
        # The redeeming update still has to return its answer before the run may complete.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.passed
