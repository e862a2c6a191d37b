"""``bulk_password_links``: the set-password links of a bulk import batch's new accounts
(docs/users.md, "Bulk operations"), the link ``user_onboarding`` sends a single new person (its
``password_reset`` child), for a batch in one run instead of a run per person.

One activity issues every new account's reset token (the database keeps its SHA-256, bound to
this run) and mails its link (``auth.bulk_mail_password_links``): no token enters this workflow.
The run then waits, up to the links' lifetime, for ``confirm_password_reset`` updates, the same
update ``password_reset`` takes and ``POST /auth/password-reset/confirm`` sends to whichever run
issued the token: each spends its token once (a ``TokenGate`` per token hash, one redemption at a
time per token), sets the password and signs the person out everywhere. It ends when every
mailed link was used or at the deadline. Started abandoned by ``bulk_user_operation``'s batch,
id ``<bulk run id>-password-links-<cursor>-<chunk>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.auth.bulk_import_contracts import (
        BULK_PASSWORD_LINKS,
        MAIL_PASSWORD_LINKS,
        MailPasswordLinksInput,
    )
    from workflows.auth.contracts import TokenPurpose
    from workflows.auth.password_reset import (
        CONFIRM_RESET_UPDATE,
        ConfirmResetInput,
        ConfirmResetResult,
        ResetStatus,
        check_new_password_hash,
        set_new_password,
    )
    from workflows.auth.token_gate import TokenGate
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker

#: ``user_onboarding``'s default lifetime of the link that sets the first password.
DEFAULT_LINK_SECONDS = 7 * 24 * 3600.0
#: The mails are retried a while, then given up (those people still have "forgot password").
MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
)


@dataclass
class BulkPasswordLinksInput:
    #: The accounts the batch created (ids only: the activity reads their addresses).
    user_ids: list[str]
    #: The batch's accounts key (``auth.bulk_ensure_accounts``'): only its accounts get a link.
    accounts_key: str
    token_ttl_seconds: float = DEFAULT_LINK_SECONDS


@dataclass
class BulkPasswordLinksResult:
    mailed: int
    redeemed: int


def bulk_password_links_workflow_id(bulk_workflow_id: str, batch: str) -> str:
    return f"{bulk_workflow_id}-password-links-{batch}"


@workflow.defn(name=BULK_PASSWORD_LINKS)
class BulkPasswordLinksWorkflow:
    def __init__(self) -> None:
        self._progress = ProgressTracker(total=2)
        self._gates: dict[str, TokenGate] = {}
        self._opened = self._closed = False
        self._key = ""
        self._redeemed = 0

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    def _gate(self, token_hash: str) -> TokenGate:
        """The token's gate (a new one, not kept, for a hash seen first: validators keep no
        state, since a rejected update leaves no trace in the history)."""
        gate = self._gates.get(token_hash)
        if gate is None:
            gate = TokenGate(TokenPurpose.password_reset)
            if self._opened:
                gate.open()
            gate.closed = self._closed
        return gate

    @workflow.update(name=CONFIRM_RESET_UPDATE)
    async def confirm(self, input: ConfirmResetInput) -> ConfirmResetResult:
        gate = self._gates.setdefault(input.token_hash, self._gate(input.token_hash))
        async with gate.redeem(input.token_hash) as user_id:
            await set_new_password(user_id, input.password_hash, f"{self._key}:{user_id}")
        self._redeemed += 1
        return ConfirmResetResult(status=ResetStatus.completed)

    @confirm.validator
    def _check_confirm(self, input: ConfirmResetInput) -> None:
        self._gate(input.token_hash).check(input.token_hash)
        check_new_password_hash(input.password_hash)

    @workflow.run
    async def run(self, input: BulkPasswordLinksInput) -> BulkPasswordLinksResult:
        info = workflow.info()
        self._key = f"{info.workflow_id}:{info.run_id}"
        self._progress.advance(0, "mailing the set-password links")
        # Open before the mails: a link may be clicked before the step reports back.
        self._opened = True
        mailed = 0
        try:
            out = await MAIL_PASSWORD_LINKS.execute(
                MailPasswordLinksInput(
                    user_ids=input.user_ids,
                    accounts_key=input.accounts_key,
                    ttl_seconds=input.token_ttl_seconds,
                    idempotency_key=f"{self._key}:links",
                ),
                retry_policy=MAIL_RETRY,
            )
            mailed = out.mailed
        except ActivityError:
            # Some links may have gone out before the step gave up: they stay redeemable.
            workflow.logger.exception("mailing the set-password links failed")
            mailed = len(input.user_ids)
        self._progress.advance(1, "waiting for the new passwords", ProgressState.waiting)
        try:
            await workflow.wait_condition(
                lambda: self._redeemed >= mailed,
                timeout=timedelta(seconds=input.token_ttl_seconds),
            )
        except TimeoutError:
            pass
        # Closed: a redemption under way finishes, none starts; then every update answers.
        self._closed = True
        for gate in self._gates.values():
            gate.closed = True
        await workflow.wait_condition(lambda: not any(g.busy for g in self._gates.values()))
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._progress.advance(
            2, f"{self._redeemed} of {mailed} links used", ProgressState.completed
        )
        return BulkPasswordLinksResult(mailed=mailed, redeemed=self._redeemed)
