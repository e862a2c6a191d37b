"""``user_onboarding`` (queue ``<prefix>-workflow``): one person landed fully set up in a tenant,
across auth, tenant and user (the contract callers use: ``workflows/onboarding/contracts.py``).

1. ``tenant.check_onboarding``: the tenant is active, the actor may onboard into it
   (``members.manage`` and grant rules; for an invitation, the person themself, a member now)
   and the role exists; nothing is written before this passes;
2. ``auth.ensure_onboarding_account``: the account of the address, found or created without a
   password;
3. ``tenant.add_onboarded_member``: the membership with the role, unless there is one;
4. ``auth.sync_principal_claims``: the new member's claims (``claims_for_role``);
5. ``user_first_run`` (child on ``<prefix>-user``): profile, default preferences, checklist,
   directory entry, welcome mail in the person's locale;
6. a new account only: a ``password_reset`` run (abandoned child, its own deadline) mails the
   link that sets the first password; best effort, a failure there undoes nothing.

A failure in steps 2-5 undoes, in reverse, what this run did (the first run undoes its own; the
claims removed, the membership it added removed, the account it created removed) and fails the
run; what existed before is never touched. An existing member is a no-op that succeeds.

Ids: ``user-onboarding-<idempotency key>`` (``user_onboarding_workflow_id``): a retried start with
the same key answers the first run's result (``start_user_onboarding``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ChildWorkflowError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from workflows.auth.onboarding_contracts import (
        ENSURE_ACCOUNT,
        REMOVE_ONBOARDED_ACCOUNT,
        EnsureAccountInput,
        RemoveOnboardedAccountInput,
    )
    from workflows.auth.password_reset import (
        PasswordResetInput,
        PasswordResetWorkflow,
        password_reset_workflow_id,
    )
    from workflows.auth.principal_contracts import SYNC_PRINCIPAL_CLAIMS
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.common.queues import sibling_queue
    from workflows.onboarding.contracts import (
        OnboardingWorkflow,
        Source,
        UserOnboardingInput,
        UserOnboardingResult,
    )
    from workflows.tenant.contracts import TenantError
    from workflows.tenant.membership_contracts import claims_for_role, no_claims
    from workflows.tenant.onboarding_contracts import (
        ADD_ONBOARDED_MEMBER,
        CHECK_ONBOARDING,
        REMOVE_ONBOARDED_MEMBER,
        AddOnboardedMemberInput,
        CheckOnboardingInput,
        RemoveOnboardedMemberInput,
    )
    from workflows.user.contracts import USER
    from workflows.user.first_run import UserFirstRunWorkflow, failure
    from workflows.user.first_run_contracts import UserFirstRunInput

UNDO_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=30,
)
STEPS = 6


def user_onboarding_workflow_id(idempotency_key: str) -> str:
    """The run of one onboarding request; the key is the caller's (no personal data in it)."""
    return f"user-onboarding-{idempotency_key}"


def user_first_run_workflow_id(idempotency_key: str) -> str:
    """The child's id, from the request's key (not the parent's run: a replay has another id)."""
    return f"user-first-run-{idempotency_key}"


@workflow.defn(name=OnboardingWorkflow.USER_ONBOARDING)
class UserOnboardingWorkflow:
    @workflow.init
    def __init__(self, input: UserOnboardingInput) -> None:
        self._progress = ProgressTracker(total=STEPS)
        #: What this run did, as the steps that undo it (run in reverse).
        self._undo: list[tuple[str, Callable[[], Awaitable[object]]]] = []

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.run
    async def run(self, input: UserOnboardingInput) -> UserOnboardingResult:
        info = workflow.info()
        key = f"{info.workflow_id}:{info.run_id}"
        self._progress.advance(0, "checking the request")
        try:
            checked = await CHECK_ONBOARDING.execute(
                CheckOnboardingInput(
                    tenant_id=input.tenant_id,
                    actor_id=input.actor_id,
                    role=input.role,
                    source=input.source,
                )
            )
        except ActivityError as error:
            self._progress.set_state(ProgressState.failed, "the request was refused")
            raise failure(error, "onboarding refused", TenantError.INVALID_INPUT) from error

        invitation = input.source == Source.INVITATION
        try:
            self._progress.advance(1, "finding or creating the account")
            account_key = f"{key}:account"
            account = await ENSURE_ACCOUNT.execute(
                EnsureAccountInput(
                    email=input.email, idempotency_key=account_key, must_exist=invitation
                )
            )
            if account.created:
                self._undo.append(
                    (
                        "account",
                        lambda: REMOVE_ONBOARDED_ACCOUNT.execute(
                            RemoveOnboardedAccountInput(account.user_id, account_key),
                            retry_policy=UNDO_RETRY,
                        ),
                    )
                )
            self._progress.advance(2, "adding the membership")
            member_key = f"{key}:member"
            member = await ADD_ONBOARDED_MEMBER.execute(
                AddOnboardedMemberInput(
                    tenant_id=input.tenant_id,
                    actor_id=input.actor_id,
                    user_id=account.user_id,
                    role=input.role,
                    source=input.source,
                    idempotency_key=member_key,
                )
            )
            result = UserOnboardingResult(
                user_id=account.user_id,
                account_created=account.created,
                membership_created=member.created,
            )
            if not member.created and not invitation:
                # Already a member: nothing to do, nothing changed.
                self._progress.advance(STEPS, "already a member", ProgressState.completed)
                return result
            if member.created:
                self._undo.append(
                    (
                        "membership",
                        lambda: REMOVE_ONBOARDED_MEMBER.execute(
                            RemoveOnboardedMemberInput(
                                input.tenant_id,
                                account.user_id,
                                added_key=member_key,
                                idempotency_key=f"{member_key}:undo",
                            ),
                            retry_policy=UNDO_RETRY,
                        ),
                    )
                )
                self._progress.advance(3, "updating the sign-in claims")
                self._undo.append(
                    (
                        "claims",
                        lambda: SYNC_PRINCIPAL_CLAIMS.execute(
                            no_claims(account.user_id, input.tenant_id), retry_policy=UNDO_RETRY
                        ),
                    )
                )
                await SYNC_PRINCIPAL_CLAIMS.execute(
                    claims_for_role(
                        account.user_id, input.tenant_id, member.role, member.permissions
                    )
                )
            self._progress.advance(4, "setting up the profile")
            first_run = await workflow.execute_child_workflow(
                UserFirstRunWorkflow.run,
                UserFirstRunInput(
                    tenant_id=input.tenant_id,
                    user_id=account.user_id,
                    role=member.role,
                    email=input.email,
                    tenant_name=checked.tenant_name,
                    display_name=input.display_name,
                    given_name=input.given_name,
                    family_name=input.family_name,
                    locale=input.locale,
                    time_zone=input.time_zone,
                    needs_password=account.created,
                    send_welcome=input.send_welcome,
                ),
                id=user_first_run_workflow_id(input.idempotency_key or info.workflow_id),
                task_queue=sibling_queue(USER),
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            )
        except (ActivityError, ChildWorkflowError) as error:
            await self._compensate()
            self._progress.set_state(ProgressState.failed, "the onboarding was undone")
            raise failure(error, "onboarding undone", TenantError.INVALID_INPUT) from error

        result.first_run_created = first_run.created
        if account.created:
            self._progress.advance(5, "mailing the link that sets the password")
            await self._password_link(input)
        self._progress.advance(STEPS, "onboarded", ProgressState.completed)
        return result

    async def _password_link(self, input: UserOnboardingInput) -> None:
        """The first password is set through the password-reset link (its own run and deadline;
        abandoned, so it outlives this run). One reset per address runs at a time: a start
        refused because one runs already is fine, the person has a link."""
        try:
            await workflow.start_child_workflow(
                PasswordResetWorkflow.run,
                PasswordResetInput(
                    email=input.email, token_ttl_seconds=input.password_link_ttl_seconds
                ),
                id=password_reset_workflow_id(input.email),
                task_queue=sibling_queue("auth"),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            workflow.logger.info("a password reset of the address runs already: it has its link")

    async def _compensate(self) -> None:
        self._progress.set_state(ProgressState.compensating, "undoing the onboarding")
        for what, undo in reversed(self._undo):
            try:
                await undo()
            except ActivityError:
                workflow.logger.exception("undoing the onboarding's %s failed", what)
