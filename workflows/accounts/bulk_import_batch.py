"""The batched ``import`` step of ``bulk_user_operation`` (``workflow.patched("bulk-import-batched")``,
docs/users.md "Bulk operations"): a batch of rows landed by one activity per owning service,
each one transaction for the whole batch, instead of a ``user_onboarding`` child per row.

1. ``auth.bulk_ensure_accounts``: each row's account found or created without a password;
2. ``tenant.bulk_add_members``: the memberships (the actor checked once per role);
3. ``auth.bulk_put_claims``: the new members' claims;
4. ``user.bulk_prepare_members``: profile, default preferences, checklist, directory entry;
5. ``user.bulk_send_welcome_mails``: the welcome mails in each person's locale;
6. (since ``bulk-import-password-links``) the batch's new accounts' set-password links: a
   ``bulk_password_links`` run (``workflows/auth/bulk_password_links.py``, started abandoned: it
   waits for the links to be used, as ``user_onboarding``'s ``password_reset`` child does for one
   person) mails them and redeems them.

A row refused by a step (a bad or repeated address, already a member, a role the actor may not
grant, no free seat, a refused mail) is that row's ``failed``, and what earlier steps did for it
is undone; the other rows go on. A step that fails as a whole (its retries spent) undoes what
the batch did, in reverse, and fails the batch's rows still standing with its message: the run
goes on with the next batch. Every step runs under the batch's key, so a retried step writes
nothing twice; the undo steps only remove what those keys created.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    WorkflowAlreadyStartedError,
    is_cancelled_exception,
)
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from workflows.auth.bulk_import_contracts import (
        ENSURE_ACCOUNTS,
        MAX_ACCOUNT_ROWS,
        PUT_BATCH_CLAIMS,
        REMOVE_BATCH_ACCOUNTS,
        REMOVE_BATCH_CLAIMS,
        AccountRow,
        EnsureAccountsInput,
        MemberClaims,
        PutBatchClaimsInput,
        RemoveBatchAccountsInput,
        RemoveBatchClaimsInput,
    )
    from workflows.auth.bulk_password_links import (
        BulkPasswordLinksInput,
        BulkPasswordLinksWorkflow,
    )
    from workflows.auth.contracts import AUTH
    from workflows.common.queues import sibling_queue
    from workflows.tenant.bulk_import_contracts import (
        ADD_MEMBERS,
        ALREADY_MEMBER,
        REMOVE_BATCH_MEMBERS,
        AddMembersInput,
        MemberRow,
        RemoveBatchMembersInput,
    )
    from workflows.user.bulk_contracts import (
        PREPARE_MEMBERS,
        SEND_WELCOMES,
        UNDO_MEMBERS,
        BulkRow,
        MemberSetupRow,
        PrepareMembersInput,
        RowResult,
        RowStatus,
        SendWelcomesInput,
        UndoMembersInput,
        WelcomeRow,
    )

#: Rows of one batch step (the activities' limit).
CHUNK = MAX_ACCOUNT_ROWS
DEFAULT_ROLE = "member"
_ERROR_MAX = 500
UNDO_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=30,
)


@dataclass
class _Row:
    """What the batch has done for one row so far."""

    row: BulkRow
    user_id: str | None = None
    account_created: bool = False
    member_added: bool = False
    claims_put: bool = False
    set_up: bool = False
    error: str | None = None


def _step_message(error: ActivityError) -> str:
    cause = error.cause
    text = cause.message if isinstance(cause, ApplicationError) else str(cause or error)
    return (text or "the step failed")[:_ERROR_MAX]


@dataclass
class ImportBatch:
    """One batch's rows (at most ``CHUNK``), run by ``run``; its keys from ``key``."""

    tenant_id: str
    operation_id: str
    actor_id: str
    key: str
    #: The set-password links' run of this batch (``bulk-import-password-links``); None: no
    #: links (runs recorded before).
    links_workflow_id: str | None = None
    link_ttl_seconds: float = 7 * 24 * 3600.0
    rows: list[_Row] = field(default_factory=list)

    def _standing(self) -> list[_Row]:
        return [r for r in self.rows if r.error is None]

    async def run(self, rows: list[BulkRow]) -> list[RowResult]:
        self.rows = [_Row(row) for row in rows]
        try:
            await self._steps()
        except ActivityError as error:
            if is_cancelled_exception(error):
                raise
            message = _step_message(error)
            await self._undo(self._standing())
            for r in self._standing():
                r.error = message
        return [
            RowResult(r.row.row_number, RowStatus.FAILED.value, r.error[:_ERROR_MAX])
            if r.error is not None
            else RowResult(r.row.row_number, RowStatus.DONE.value, None, r.user_id)
            for r in self.rows
        ]

    async def _fail(self, failed: dict[int, str]) -> None:
        """Rows refused by a step: failed, and what the earlier steps did for them undone."""
        rows = [r for r in self.rows if r.row.row_number in failed and r.error is None]
        for r in rows:
            r.error = failed[r.row.row_number] or "refused"
        await self._undo(rows)

    async def _steps(self) -> None:
        accounts = await ENSURE_ACCOUNTS.execute(
            EnsureAccountsInput(
                [AccountRow(r.row.row_number, r.row.email or "") for r in self.rows],
                f"{self.key}:accounts",
            )
        )
        by_number = {r.row.row_number: r for r in self.rows}
        for outcome in accounts.outcomes:
            r = by_number[outcome.row_number]
            if outcome.error is not None or outcome.user_id is None:
                r.error = outcome.error or "no account"
            else:
                r.user_id, r.account_created = outcome.user_id, outcome.created
        standing = self._standing()
        if not standing:
            return

        members = await ADD_MEMBERS.execute(
            AddMembersInput(
                tenant_id=self.tenant_id,
                actor_id=self.actor_id,
                rows=[
                    MemberRow(r.row.row_number, r.user_id or "", r.row.role or DEFAULT_ROLE)
                    for r in standing
                ],
                idempotency_key=f"{self.key}:members",
            )
        )
        permissions: dict[int, list[str]] = {}
        refused: dict[int, str] = {}
        for member in members.outcomes:
            if member.created:
                by_number[member.row_number].member_added = True
                permissions[member.row_number] = member.permissions
            else:
                refused[member.row_number] = member.error or ALREADY_MEMBER
        await self._fail(refused)
        standing = self._standing()
        if not standing:
            return

        await PUT_BATCH_CLAIMS.execute(
            PutBatchClaimsInput(
                self.tenant_id,
                [
                    MemberClaims(
                        r.user_id or "", r.row.role or DEFAULT_ROLE, permissions[r.row.row_number]
                    )
                    for r in standing
                ],
                f"{self.key}:claims",
            )
        )
        for r in standing:
            r.claims_put = True

        prepared = await PREPARE_MEMBERS.execute(
            PrepareMembersInput(
                operation_id=self.operation_id,
                tenant_id=self.tenant_id,
                rows=[
                    MemberSetupRow(
                        r.row.row_number,
                        r.user_id or "",
                        r.row.role or DEFAULT_ROLE,
                        needs_password=r.account_created,
                    )
                    for r in standing
                ],
                idempotency_key=f"{self.key}:users",
            )
        )
        to_welcome: set[int] = set()
        refused = {}
        for setup in prepared.outcomes:
            if setup.error is not None:
                refused[setup.row_number] = setup.error
            elif setup.created:
                by_number[setup.row_number].set_up = True
                to_welcome.add(setup.row_number)
        await self._fail(refused)
        welcome = [r for r in self._standing() if r.row.row_number in to_welcome]
        if not welcome:
            return

        mailed = await SEND_WELCOMES.execute(
            SendWelcomesInput(
                tenant_id=self.tenant_id,
                tenant_name=members.tenant_name,
                rows=[
                    WelcomeRow(r.row.row_number, r.user_id or "", r.account_created)
                    for r in welcome
                ],
                idempotency_key=f"{self.key}:welcome",
            )
        )
        await self._fail({m.row_number: m.error for m in mailed.outcomes if m.error is not None})
        await self._password_links()

    async def _password_links(self) -> None:
        """The new accounts' set-password links, in a run of their own that outlives this one
        (its own deadline); the tokens never pass through here."""
        new = [r.user_id or "" for r in self._standing() if r.account_created]
        if self.links_workflow_id is None or not new:
            return
        try:
            await workflow.start_child_workflow(
                BulkPasswordLinksWorkflow.run,
                BulkPasswordLinksInput(new, f"{self.key}:accounts", self.link_ttl_seconds),
                id=self.links_workflow_id,
                task_queue=sibling_queue(AUTH),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            workflow.logger.info("the batch's set-password links run already")

    async def _undo(self, rows: list[_Row]) -> None:
        """What the steps did for ``rows``, undone in reverse (best effort: an undo that keeps
        failing is logged, the rows stay failed)."""
        set_up = [r.user_id or "" for r in rows if r.set_up]
        claims = [r.user_id or "" for r in rows if r.claims_put]
        added = [r.user_id or "" for r in rows if r.member_added]
        created = [r.user_id or "" for r in rows if r.account_created]
        steps = [
            (
                "user rows",
                set_up,
                lambda: UNDO_MEMBERS.execute(
                    UndoMembersInput(self.tenant_id, set_up, f"{self.key}:users"),
                    retry_policy=UNDO_RETRY,
                ),
            ),
            (
                "claims",
                claims,
                lambda: REMOVE_BATCH_CLAIMS.execute(
                    RemoveBatchClaimsInput(self.tenant_id, claims, f"{self.key}:claims:undo"),
                    retry_policy=UNDO_RETRY,
                ),
            ),
            (
                "memberships",
                added,
                lambda: REMOVE_BATCH_MEMBERS.execute(
                    RemoveBatchMembersInput(self.tenant_id, f"{self.key}:members", added),
                    retry_policy=UNDO_RETRY,
                ),
            ),
            (
                "accounts",
                created,
                lambda: REMOVE_BATCH_ACCOUNTS.execute(
                    RemoveBatchAccountsInput(created, f"{self.key}:accounts"),
                    retry_policy=UNDO_RETRY,
                ),
            ),
        ]
        for what, ids, undo in steps:
            if not ids:
                continue
            try:
                await undo()
            except ActivityError:
                workflow.logger.exception("undoing the import batch's %s failed", what)
        for r in rows:
            r.set_up = r.claims_put = r.member_added = r.account_created = False
