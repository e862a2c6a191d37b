"""``tenant_suspension``: suspend a tenant, resume it, or delete it after a grace period
(docs/tenancy.md).

- **suspend**: status ``suspended``; every member's claims are removed and their sessions in the
  tenant end (so no token or login into the tenant works), the data stays; members are mailed.
  If the claims cannot all be removed the tenant is resumed again (saga).
- **resume**: status ``active``; the claims are restored from the memberships; members mailed.
- **delete**: status ``deleting`` with ``delete_after``; claims removed as for a suspension;
  members mailed; then a timer of ``grace_seconds`` (from the input: settings in production, a
  few seconds in tests). A ``cancel_deletion`` update (``/resume`` sends it; rejected once the
  grace period is over) or the older ``resume`` signal during the wait cancels the deletion:
  the tenant goes back to the status it had before (``active`` with its claims restored, or
  ``suspended``, patch ``deletion-cancel-keeps-previous-status``). Otherwise the tenant's data is exported (the tenants rows by the tenant service, the
  file rows and blobs by the file service, to ``exports/tenants/<id>/<run>/``) and then erased
  from every schema: files (rows, blobs, prefix marker), auth claims, the tenants rows. An
  input with ``export`` false skips the export (``gdpr_erasure`` deleting a tenant its person
  alone owned: an export would keep their data).

Versions: ``deletion-cancel-keeps-previous-status`` (a cancelled deletion of a suspended
tenant leaves it suspended through ``tenant.cancel_deletion``; runs before it resumed it);
``user-directory-copy`` (the user service's directory copy follows: entries suspended, active
again, erased with the tenant; runs before it left the copy alone).

Ids: ``tenant-suspension-<tenant>`` for suspend and resume (one at a time) and
``tenant-deletion-<tenant>`` for a deletion (the run a resume signals).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.auth.account_contracts import ACCOUNT_EMAILS, AccountEmailsInput
    from workflows.auth.principal_contracts import SYNC_PRINCIPAL_CLAIMS
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.file.tenant_storage_contracts import (
        ERASE_TENANT_STORAGE,
        EXPORT_TENANT_FILES,
        EraseTenantStorageInput,
        ExportTenantFilesInput,
    )
    from workflows.tenant.contracts import TenantError, TenantWorkflow
    from workflows.tenant.membership_contracts import MemberClaims, MemberState, no_claims
    from workflows.tenant.provisioning_contracts import (
        SEND_TENANT_MAIL,
        SendTenantMailInput,
        TenantMail,
        storage_prefix,
    )
    from workflows.tenant.suspension_contracts import (
        CANCEL_DELETION,
        ERASE_TENANT,
        EXPORT_TENANT,
        RESUME_TENANT,
        SCHEDULE_DELETION,
        SUSPEND_TENANT,
        EraseTenantInput,
        ExportTenantInput,
        TenantMembersOutput,
        TenantStatusChangeInput,
        export_prefix,
    )
    from workflows.user.directory_contracts import (
        DIRECTORY_COPY_PATCH,
        ERASE_TENANT_DIRECTORY,
        SET_DIRECTORY_STATUS,
        DirectoryStatus,
        EraseTenantDirectoryInput,
        SetDirectoryStatusInput,
    )

RESUME_SIGNAL = "resume"
#: Update of a deletion run: cancel it if its grace period is not over (rejected otherwise,
#: ``TenantNotActive``), answered with the status the tenant returns to.
CANCEL_DELETION_UPDATE = "cancel_deletion"
#: A cancelled deletion restores the status before it (suspended stays suspended).
KEEP_PREVIOUS_STATUS_PATCH = "deletion-cancel-keeps-previous-status"
#: 30 days, when no grace period is given.
DEFAULT_GRACE_SECONDS = 30 * 24 * 3600.0
UNDO_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=30,
)


#: ``tenants.status`` of a suspended tenant (storage's ``TenantStatus.SUSPENDED``).
SUSPENDED = "suspended"


class SuspensionAction(StrEnum):
    SUSPEND = "suspend"
    RESUME = "resume"
    DELETE = "delete"


@dataclass
class TenantSuspensionInput:
    tenant_id: str
    action: str
    actor_id: str
    grace_seconds: float = DEFAULT_GRACE_SECONDS
    #: A deletion exports the tenant's data first; ``gdpr_erasure`` deleting the tenant its
    #: erased person alone owned asks for none (the export would keep their data).
    export: bool = True


@dataclass
class TenantSuspensionResult:
    tenant_id: str
    action: str
    #: ``suspended``, ``active`` (resumed, or a deletion cancelled) or ``deleted``.
    status: str
    #: Where the export of a deleted tenant is (None otherwise).
    export_prefix: str | None = None


def tenant_suspension_workflow_id(tenant_id: str) -> str:
    return f"tenant-suspension-{tenant_id}"


def tenant_deletion_workflow_id(tenant_id: str) -> str:
    return f"tenant-deletion-{tenant_id}"


def _refused(error: ActivityError, label: str) -> ApplicationError:
    cause = error.cause
    kind = cause.type if isinstance(cause, ApplicationError) and cause.type else None
    message = cause.message if isinstance(cause, ApplicationError) else str(error)
    return ApplicationError(
        f"{label}: {message}", type=kind or TenantError.TENANT_NOT_ACTIVE, non_retryable=True
    )


@workflow.defn(name=TenantWorkflow.TENANT_SUSPENSION)
class TenantSuspensionWorkflow:
    @workflow.init
    def __init__(self, input: TenantSuspensionInput) -> None:
        total = 6 if input.action == SuspensionAction.DELETE else 3
        self._is_deletion = input.action == SuspensionAction.DELETE
        self._progress = ProgressTracker(total=total)
        self._resume_requested = False
        #: Once the export starts, a resume comes too late.
        self._past_grace = False
        #: The status before the deletion was scheduled (where a cancellation returns to).
        self._previous_status: str | None = None

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.signal(name=RESUME_SIGNAL)
    def resume(self) -> None:
        if not self._past_grace:
            self._resume_requested = True

    @workflow.update(name=CANCEL_DELETION_UPDATE)
    def cancel_deletion(self) -> str:
        self._resume_requested = True
        return self._previous_status or "active"

    @cancel_deletion.validator
    def _validate_cancel_deletion(self) -> None:
        if self._past_grace:
            raise ApplicationError(
                "the deletion's grace period is over: the tenant's data is being exported and "
                "erased, it can no longer be cancelled",
                type=TenantError.TENANT_NOT_ACTIVE,
                non_retryable=True,
            )
        if not self._is_deletion:
            raise ApplicationError(
                "this run is not a deletion", type=TenantError.INVALID_INPUT, non_retryable=True
            )

    @workflow.run
    async def run(self, input: TenantSuspensionInput) -> TenantSuspensionResult:
        info = workflow.info()
        self._key = f"{info.workflow_id}:{info.run_id}"
        try:
            action = SuspensionAction(input.action)
        except ValueError:
            self._progress.set_state(ProgressState.failed, "unknown action")
            raise ApplicationError(
                f"unknown action {input.action!r}",
                type=TenantError.INVALID_INPUT,
                non_retryable=True,
            ) from None
        if action == SuspensionAction.SUSPEND:
            return await self._suspend(input)
        if action == SuspensionAction.RESUME:
            return await self._resume(input, step=0, label="resuming the tenant")
        return await self._delete(input)

    def _change(
        self, input: TenantSuspensionInput, step: str, **extra: str
    ) -> TenantStatusChangeInput:
        return TenantStatusChangeInput(
            tenant_id=input.tenant_id,
            actor_id=input.actor_id,
            idempotency_key=f"{self._key}:{step}",
            **extra,
        )

    async def _suspend(self, input: TenantSuspensionInput) -> TenantSuspensionResult:
        self._progress.advance(0, "suspending the tenant")
        try:
            suspended = await SUSPEND_TENANT.execute(self._change(input, "suspend"))
        except ActivityError as error:
            self._progress.set_state(ProgressState.failed, "the tenant was not suspended")
            raise _refused(error, "suspension refused") from error
        self._progress.advance(1, "ending the members' access")
        try:
            await self._remove_claims(input.tenant_id, suspended.members)
        except ActivityError as error:
            self._progress.set_state(ProgressState.compensating, "resuming the tenant")
            await self._resume(input, step=1, label="resuming the tenant", mail=False)
            self._progress.set_state(ProgressState.failed, "the suspension was undone")
            raise _refused(error, "suspension undone") from error
        await self._directory_status(input.tenant_id, DirectoryStatus.SUSPENDED, "suspend")
        self._progress.advance(2, "telling the members")
        await self._mail(input.tenant_id, suspended, TenantMail.SUSPENDED, "mail-suspended")
        self._progress.advance(3, "tenant suspended", ProgressState.completed)
        return TenantSuspensionResult(input.tenant_id, SuspensionAction.SUSPEND, "suspended")

    async def _resume(
        self, input: TenantSuspensionInput, *, step: int, label: str, mail: bool = True
    ) -> TenantSuspensionResult:
        self._progress.advance(step, label)
        try:
            resumed = await RESUME_TENANT.execute(self._change(input, "resume"))
        except ActivityError as error:
            self._progress.set_state(ProgressState.failed, "the tenant was not resumed")
            raise _refused(error, "resume refused") from error
        for member in resumed.members:
            claims = MemberClaims(member.user_id, member.role, member.permissions)
            await SYNC_PRINCIPAL_CLAIMS.execute(
                claims.sync_input(input.tenant_id), retry_policy=UNDO_RETRY
            )
        await self._directory_status(input.tenant_id, DirectoryStatus.ACTIVE, "resume")
        if mail:
            await self._mail(input.tenant_id, resumed, TenantMail.RESUMED, "mail-resumed")
        self._progress.advance(
            self._progress.current.total, "tenant active", ProgressState.completed
        )
        return TenantSuspensionResult(input.tenant_id, SuspensionAction.RESUME, "active")

    async def _delete(self, input: TenantSuspensionInput) -> TenantSuspensionResult:
        grace = timedelta(seconds=max(input.grace_seconds, 0.0))
        delete_after = workflow.now() + grace
        self._progress.advance(0, "scheduling the deletion")
        try:
            scheduled = await SCHEDULE_DELETION.execute(
                self._change(input, "schedule", delete_after=delete_after.isoformat())
            )
        except ActivityError as error:
            self._progress.set_state(ProgressState.failed, "the deletion was not scheduled")
            raise _refused(error, "deletion refused") from error
        self._previous_status = scheduled.previous_status
        try:
            await self._remove_claims(input.tenant_id, scheduled.members)
        except ActivityError as error:
            if workflow.patched(KEEP_PREVIOUS_STATUS_PATCH) and (
                scheduled.previous_status == SUSPENDED
            ):
                self._progress.set_state(ProgressState.compensating, "suspending the tenant again")
                await self._back_to_suspended(input)
            else:
                self._progress.set_state(ProgressState.compensating, "resuming the tenant")
                await self._resume(input, step=0, label="resuming the tenant", mail=False)
            self._progress.set_state(ProgressState.failed, "the deletion was undone")
            raise _refused(error, "deletion undone") from error
        await self._directory_status(input.tenant_id, DirectoryStatus.SUSPENDED, "schedule")
        await self._mail(
            input.tenant_id,
            scheduled,
            TenantMail.DELETION_SCHEDULED,
            "mail-scheduled",
            delete_after=delete_after.isoformat(),
        )

        self._progress.advance(1, "waiting for the grace period", ProgressState.waiting)
        try:
            await workflow.wait_condition(lambda: self._resume_requested, timeout=grace)
        except TimeoutError:
            pass
        if self._resume_requested:
            if workflow.patched(KEEP_PREVIOUS_STATUS_PATCH) and (
                scheduled.previous_status == SUSPENDED
            ):
                return await self._back_to_suspended(input)
            result = await self._resume(input, step=1, label="deletion cancelled: resuming")
            return TenantSuspensionResult(input.tenant_id, SuspensionAction.DELETE, result.status)
        self._past_grace = True

        prefix = scheduled.storage_prefix or storage_prefix(input.tenant_id)
        exports: str | None = None
        self._progress.advance(2, "exporting the tenant's data")
        if input.export:
            exports = export_prefix(input.tenant_id, workflow.info().run_id)
            await EXPORT_TENANT.execute(
                ExportTenantInput(input.tenant_id, exports, f"{self._key}:export")
            )
            await EXPORT_TENANT_FILES.execute(
                ExportTenantFilesInput(
                    input.tenant_id, prefix, exports, f"{self._key}:export-files"
                )
            )
        # The members are told before their addresses stop being theirs to this tenant.
        await self._mail(input.tenant_id, scheduled, TenantMail.DELETED, "mail-deleted")

        self._progress.advance(3, "erasing the tenant's files")
        await ERASE_TENANT_STORAGE.execute(
            EraseTenantStorageInput(input.tenant_id, prefix, f"{self._key}:erase-files")
        )
        self._progress.advance(4, "erasing the members' claims")
        await self._remove_claims(input.tenant_id, scheduled.members)
        self._progress.advance(5, "erasing the tenant")
        await ERASE_TENANT.execute(EraseTenantInput(input.tenant_id, f"{self._key}:erase"))
        if workflow.patched(DIRECTORY_COPY_PATCH):
            await ERASE_TENANT_DIRECTORY.execute(
                EraseTenantDirectoryInput(input.tenant_id, f"{self._key}:erase-directory")
            )
        self._progress.advance(6, "tenant deleted", ProgressState.completed)
        return TenantSuspensionResult(
            input.tenant_id, SuspensionAction.DELETE, "deleted", export_prefix=exports
        )

    async def _back_to_suspended(self, input: TenantSuspensionInput) -> TenantSuspensionResult:
        """A cancelled deletion of a suspended tenant: suspended again, no claims come back."""
        self._progress.advance(1, "deletion cancelled: the tenant stays suspended")
        try:
            await CANCEL_DELETION.execute(self._change(input, "cancel"), retry_policy=UNDO_RETRY)
        except ActivityError as error:
            self._progress.set_state(ProgressState.failed, "the deletion was not cancelled")
            raise _refused(error, "cancellation refused") from error
        self._progress.advance(
            self._progress.current.total, "tenant suspended", ProgressState.completed
        )
        return TenantSuspensionResult(input.tenant_id, SuspensionAction.DELETE, SUSPENDED)

    async def _directory_status(self, tenant_id: str, status: DirectoryStatus, step: str) -> None:
        """The user service's directory copy follows the tenant's status."""
        if workflow.patched(DIRECTORY_COPY_PATCH):
            await SET_DIRECTORY_STATUS.execute(
                SetDirectoryStatusInput(tenant_id, status.value, f"{self._key}:directory-{step}"),
                retry_policy=UNDO_RETRY,
            )

    async def _remove_claims(self, tenant_id: str, members: list[MemberState]) -> None:
        for member in members:
            await SYNC_PRINCIPAL_CLAIMS.execute(no_claims(member.user_id, tenant_id))

    async def _mail(
        self,
        tenant_id: str,
        tenant: TenantMembersOutput,
        template: str,
        step: str,
        *,
        delete_after: str | None = None,
    ) -> None:
        """Best effort: a mail that cannot be sent does not undo the change."""
        if not tenant.members:
            return
        try:
            found = await ACCOUNT_EMAILS.execute(
                AccountEmailsInput(user_ids=[m.user_id for m in tenant.members])
            )
            await SEND_TENANT_MAIL.execute(
                SendTenantMailInput(
                    tenant_id=tenant_id,
                    template=template,
                    to=sorted(a.email for a in found.accounts),
                    idempotency_key=f"{self._key}:{step}",
                    tenant_name=tenant.tenant_name,
                    delete_after=delete_after,
                )
            )
        except ActivityError:
            workflow.logger.exception("tenant mail %s failed", template)
