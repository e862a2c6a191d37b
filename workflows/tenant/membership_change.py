"""``membership_change``: joining by invitation, a role change, a removal (or leaving), a
transfer of ownership (docs/tenancy.md).

The tenant service applies the change to its rows first (``tenant.apply_membership_change``: the
actor's permission and the rules, checked against the rows in the same transaction), then auth's
claims follow (``auth.sync_principal_claims``); a removed or demoted member's sessions in the
tenant end at once. If the claims cannot be synced the rows are restored and the claims synced
back (saga). A removed member (not one who left) is then told by mail (``member_removed``,
best effort, once per run: patch ``membership-removal-mails-the-member``). An accepted invitation
starts the cross-service ``user_onboarding`` for the new member (source ``invitation``: their
first-run set-up and welcome; patch ``membership-accept-onboards``), as an abandoned child: the
acceptance stands whatever the set-up does, and the set-up undoes only its own rows.

Ids: ``membership-<kind>-<tenant>-<member>``, so two changes of one member never race: the second
start is refused while the first runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from workflows.auth.account_contracts import ACCOUNT_EMAILS, AccountEmailsInput
    from workflows.auth.principal_contracts import SYNC_PRINCIPAL_CLAIMS
    from workflows.common.errors import failed_step
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.common.queues import sibling_queue
    from workflows.tenant.contracts import TenantError, TenantWorkflow
    from workflows.tenant.membership_contracts import (
        APPLY_MEMBERSHIP_CHANGE,
        REVERT_MEMBERSHIP_CHANGE,
        ApplyMembershipChangeInput,
        ApplyMembershipChangeOutput,
        MemberClaims,
        MembershipChangeKind,
        RevertMembershipChangeInput,
    )
    from workflows.tenant.provisioning_contracts import (
        SEND_TENANT_MAIL,
        SendTenantMailInput,
        TenantMail,
    )
    from workflows.user.directory_contracts import (
        DIRECTORY_COPY_PATCH,
        SYNC_DIRECTORY,
        DirectoryEntry,
        SyncDirectoryInput,
    )

#: A removal mails the removed member (runs before it mailed nobody).
REMOVAL_MAIL_PATCH = "membership-removal-mails-the-member"
#: An accepted invitation starts ``user_onboarding`` (runs before it started nothing).
ACCEPT_ONBOARDS_PATCH = "membership-accept-onboards"
#: ``OnboardingWorkflow.USER_ONBOARDING`` on ``<prefix>-workflow``, started by name with its
#: ``UserOnboardingInput`` as a mapping: the onboarding package (workflows/onboarding/) sits
#: above this one (it calls the tenant's activities), so nothing here imports it
#: (tests/workflow/onboarding/test_invitation.py checks the name and the fields).
ONBOARDING_WORKFLOW = "user_onboarding"
ONBOARDING_QUEUE = "workflow"


def invitation_onboarding_key(invitation_id: str) -> str:
    """The ``user_onboarding`` idempotency key of an accepted invitation (its id: ``user-onboarding-<key>``)."""
    return f"invitation-{invitation_id}"


UNDO_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=30,
)


@dataclass
class MembershipChangeInput:
    tenant_id: str
    kind: str
    actor_id: str
    user_id: str | None = None
    role: str | None = None
    invitation_token_hash: str | None = None


@dataclass
class MembershipChangeResult:
    tenant_id: str
    kind: str
    #: The members whose claims changed, with their role now (None: no longer a member).
    members: list[MemberClaims]


def membership_change_workflow_id(kind: str, tenant_id: str, member_id: str) -> str:
    return f"membership-{kind}-{tenant_id}-{member_id}"


def _fail(error: BaseException, label: str) -> ApplicationError:
    return failed_step(error, label, TenantError.INVALID_INPUT)


@workflow.defn(name=TenantWorkflow.MEMBERSHIP_CHANGE)
class MembershipChangeWorkflow:
    @workflow.init
    def __init__(self, input: MembershipChangeInput) -> None:
        self._progress = ProgressTracker(total=3)

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.run
    async def run(self, input: MembershipChangeInput) -> MembershipChangeResult:
        info = workflow.info()
        key = f"{info.workflow_id}:{info.run_id}"
        try:
            kind = MembershipChangeKind(input.kind)
        except ValueError:
            self._progress.set_state(ProgressState.failed, "unknown change")
            raise ApplicationError(
                f"unknown membership change {input.kind!r}",
                type=TenantError.INVALID_INPUT,
                non_retryable=True,
            ) from None

        actor_email = None
        try:
            if kind == MembershipChangeKind.ACCEPT_INVITATION:
                self._progress.advance(0, "checking the invited address")
                found = await ACCOUNT_EMAILS.execute(AccountEmailsInput(user_ids=[input.actor_id]))
                actor_email = found.accounts[0].email if found.accounts else None
            self._progress.advance(1, "changing the membership")
            applied = await APPLY_MEMBERSHIP_CHANGE.execute(
                ApplyMembershipChangeInput(
                    tenant_id=input.tenant_id,
                    kind=kind.value,
                    actor_id=input.actor_id,
                    user_id=input.user_id,
                    role=input.role,
                    invitation_token_hash=input.invitation_token_hash,
                    actor_email=actor_email,
                    idempotency_key=f"{key}:apply",
                )
            )
        except ActivityError as error:
            self._progress.set_state(ProgressState.failed, "the change was refused")
            raise _fail(error, "membership change refused") from error

        self._progress.advance(2, "updating the members' sign-in claims")
        try:
            for change in applied.changes:
                await SYNC_PRINCIPAL_CLAIMS.execute(change.sync_input(input.tenant_id))
            if workflow.patched(DIRECTORY_COPY_PATCH):
                # The user service's copy of the memberships (its directory).
                await SYNC_DIRECTORY.execute(
                    SyncDirectoryInput(
                        input.tenant_id,
                        [DirectoryEntry(c.user_id, c.role) for c in applied.changes],
                        f"{key}:directory",
                    )
                )
        except ActivityError as error:
            await self._compensate(input, applied, key)
            self._progress.set_state(ProgressState.failed, "the change was undone")
            raise _fail(error, "membership change undone") from error

        if kind == MembershipChangeKind.REMOVE and workflow.patched(REMOVAL_MAIL_PATCH):
            await self._mail_removed(input, applied, key)
        if (
            kind == MembershipChangeKind.ACCEPT_INVITATION
            and actor_email is not None
            and workflow.patched(ACCEPT_ONBOARDS_PATCH)
        ):
            await self._onboard(input, applied, actor_email)
        self._progress.advance(3, "membership changed", ProgressState.completed)
        return MembershipChangeResult(
            tenant_id=input.tenant_id, kind=kind.value, members=applied.changes
        )

    async def _onboard(
        self, input: MembershipChangeInput, applied: ApplyMembershipChangeOutput, email: str
    ) -> None:
        """The new member's set-up across services, in a run of its own (abandoned: it outlives
        this one). A retried acceptance finds it started already."""
        change = applied.changes[0]
        key = invitation_onboarding_key(applied.invitation_id or input.actor_id)
        try:
            await workflow.start_child_workflow(
                ONBOARDING_WORKFLOW,
                {
                    "tenant_id": input.tenant_id,
                    "email": email,
                    "role": change.role,
                    "actor_id": input.actor_id,
                    "source": "invitation",
                    "idempotency_key": key,
                },
                id=f"user-onboarding-{key}",
                task_queue=sibling_queue(ONBOARDING_QUEUE),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            workflow.logger.info("the member's onboarding runs already")

    async def _mail_removed(
        self, input: MembershipChangeInput, applied: ApplyMembershipChangeOutput, key: str
    ) -> None:
        """Best effort: a mail that cannot be sent does not undo the removal. The mail step's key
        is the run's, so a retried step sends nothing twice (``tenant.send_tenant_mail``)."""
        removed = [c.user_id for c in applied.changes if c.role is None]
        if not removed:
            return
        try:
            found = await ACCOUNT_EMAILS.execute(AccountEmailsInput(user_ids=removed))
            if found.accounts:
                await SEND_TENANT_MAIL.execute(
                    SendTenantMailInput(
                        tenant_id=input.tenant_id,
                        template=TenantMail.MEMBER_REMOVED,
                        to=sorted(a.email for a in found.accounts),
                        idempotency_key=f"{key}:mail-removed",
                        tenant_name=applied.tenant_name or "",
                    )
                )
        except ActivityError:
            workflow.logger.exception("the mail to the removed member failed")

    async def _compensate(
        self, input: MembershipChangeInput, applied: ApplyMembershipChangeOutput, key: str
    ) -> None:
        self._progress.set_state(ProgressState.compensating, "restoring the membership")
        try:
            await REVERT_MEMBERSHIP_CHANGE.execute(
                RevertMembershipChangeInput(
                    tenant_id=input.tenant_id,
                    previous=applied.previous,
                    invitation_id=applied.invitation_id,
                    idempotency_key=f"{key}:revert",
                ),
                retry_policy=UNDO_RETRY,
            )
            for state in applied.previous:
                claims = MemberClaims(state.user_id, state.role, state.permissions)
                await SYNC_PRINCIPAL_CLAIMS.execute(
                    claims.sync_input(input.tenant_id), retry_policy=UNDO_RETRY
                )
            if workflow.patched(DIRECTORY_COPY_PATCH):
                await SYNC_DIRECTORY.execute(
                    SyncDirectoryInput(
                        input.tenant_id,
                        [
                            DirectoryEntry(m.user_id, m.role, m.status or "active")
                            for m in applied.previous
                        ],
                        f"{key}:directory:revert",
                    ),
                    retry_policy=UNDO_RETRY,
                )
        except ActivityError:
            workflow.logger.exception("membership change compensation failed")
