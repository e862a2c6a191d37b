"""``user_deactivation``: a user deactivated, or reactivated (docs/users.md).

Deactivation, step by step (each on its owner's queue):

1. ``user.check_account_change``: the actor may do it (checked against the user service's rows);
2. ``user.set_profile_status``: the profile ``deactivated``;
3. ``auth.set_account_status``: logins refused and every session revoked;
4. ``tenant.set_user_memberships``: the memberships in every tenant ``suspended``, then for each
   the claims removed (``auth.sync_principal_claims``, roles ``[]``) and the directory entry
   ``suspended`` (``user.sync_directory``);
5. ``file.transfer_user_files``: the files kept or transferred per ``file_policy``: with
   ``transfer``, the user's files in the actor's tenant (an operator: in every tenant whose
   membership was suspended) go to ``transfer_to`` (patch ``user-deactivation-file-transfer``
   names those tenants); a reactivation or the compensation moves back only the files a
   deactivation moved.

Reactivation runs the same steps undone, in reverse order (files back, memberships active in the
tenants that are active, claims restored, logins allowed, the profile ``active``). A failure
after a step changed something undoes what was done, in reverse (saga), and the run fails.

Ids: ``user-deactivation-<user id>`` for both, so a deactivation and a reactivation of one user
never run at once (the second start is refused while the first runs).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.auth.account_status_contracts import SET_ACCOUNT_STATUS, SetAccountStatusInput
    from workflows.auth.principal_contracts import SYNC_PRINCIPAL_CLAIMS
    from workflows.common.errors import failed_step
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.file.user_files_contracts import (
        FILE_TRANSFER_PATCH,
        TRANSFER_USER_FILES,
        FilePolicy,
        TransferUserFilesInput,
    )
    from workflows.tenant.member_status_contracts import (
        SET_USER_MEMBERSHIPS,
        SetUserMembershipsInput,
    )
    from workflows.tenant.membership_contracts import claims_for_role, no_claims
    from workflows.user.account_status_contracts import (
        CHECK_ACCOUNT_CHANGE,
        SET_PROFILE_STATUS,
        AccountStatus,
        CheckAccountChangeInput,
        SetProfileStatusInput,
    )
    from workflows.user.contracts import UserError, UserWorkflow
    from workflows.user.directory_contracts import (
        SYNC_DIRECTORY,
        DirectoryEntry,
        DirectoryStatus,
        SyncDirectoryInput,
    )

UNDO_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=30,
)
#: ``tenant.set_user_memberships``'s statuses (storage's ``MembershipStatus``).
SUSPENDED, ACTIVE = "suspended", "active"


@dataclass
class UserDeactivationInput:
    user_id: str
    #: Who asks (checked against the run's security context and the user service's rows).
    actor_id: str
    #: The tenant the actor acts in (their token's); None for an operator.
    tenant_id: str | None = None
    #: False: deactivate; True: reactivate.
    reactivate: bool = False
    #: ``FilePolicy``: ``keep`` (default) or ``transfer`` to ``transfer_to``.
    file_policy: str = FilePolicy.KEEP.value
    transfer_to: str | None = None


@dataclass
class UserDeactivationResult:
    user_id: str
    #: ``AccountStatus`` now.
    status: str
    sessions_revoked: int = 0
    #: The tenants whose membership was suspended (or made active again).
    tenant_ids: list[str] = field(default_factory=list)
    files_transferred: int = 0


def user_deactivation_workflow_id(user_id: str) -> str:
    return f"user-deactivation-{user_id}"


def _fail(error: BaseException, label: str) -> ApplicationError:
    return failed_step(error, label, UserError.INVALID_INPUT)


Step = Callable[[str, RetryPolicy | None], Awaitable[None]]


@workflow.defn(name=UserWorkflow.USER_DEACTIVATION)
class UserDeactivationWorkflow:
    @workflow.init
    def __init__(self, input: UserDeactivationInput) -> None:
        self._progress = ProgressTracker(total=5)
        self._input = input
        self._result = UserDeactivationResult(user_id=input.user_id, status="")

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.run
    async def run(self, input: UserDeactivationInput) -> UserDeactivationResult:
        info = workflow.info()
        self._key = f"{info.workflow_id}:{info.run_id}"
        target = AccountStatus.ACTIVE if input.reactivate else AccountStatus.DEACTIVATED
        try:
            FilePolicy(input.file_policy)
        except ValueError:
            self._progress.set_state(ProgressState.failed, "unknown file policy")
            raise ApplicationError(
                f"unknown file policy {input.file_policy!r}",
                type=UserError.INVALID_INPUT,
                non_retryable=True,
            ) from None

        self._progress.advance(0, "checking the request")
        try:
            await CHECK_ACCOUNT_CHANGE.execute(
                CheckAccountChangeInput(
                    user_id=input.user_id,
                    actor_id=input.actor_id,
                    tenant_id=input.tenant_id,
                    status=target.value,
                    idempotency_key=f"{self._key}:check",
                )
            )
        except ActivityError as error:
            self._progress.set_state(ProgressState.failed, "the change was refused")
            raise _fail(error, "account change refused") from error

        # (label, do, undo): deactivation's order; reactivation runs the undos in reverse.
        steps: list[tuple[str, Step, Step]] = [
            ("marking the profile", self._profile_off, self._profile_on),
            ("refusing logins and ending sessions", self._account_off, self._account_on),
            ("suspending the memberships", self._members_off, self._members_on),
            ("handling the files", self._files_off, self._files_on),
        ]
        if input.reactivate:
            steps = [(label, undo, do) for label, do, undo in reversed(steps)]
        done: list[tuple[str, Step]] = []
        for number, (label, do, undo) in enumerate(steps, start=1):
            self._progress.advance(number, label)
            try:
                await do(f"{self._key}:{number}", None)
            except ActivityError as error:
                await self._compensate(done)
                self._progress.set_state(ProgressState.failed, "the change was undone")
                raise _fail(error, "account change undone") from error
            done.append((f"{self._key}:{number}:undo", undo))

        self._result.status = target.value
        self._progress.advance(5, f"account {target.value}", ProgressState.completed)
        return self._result

    async def _compensate(self, done: list[tuple[str, Step]]) -> None:
        self._progress.set_state(ProgressState.compensating, "undoing the change")
        for key, undo in reversed(done):
            try:
                await undo(key, UNDO_RETRY)
            except ActivityError:
                workflow.logger.exception("user deactivation compensation failed")

    # --- the steps: each a status set, so its undo is the other status ---------------------

    async def _profile(self, status: AccountStatus, key: str, retry: RetryPolicy | None) -> None:
        await SET_PROFILE_STATUS.execute(
            SetProfileStatusInput(self._input.user_id, status.value, key), retry_policy=retry
        )

    async def _profile_off(self, key: str, retry: RetryPolicy | None) -> None:
        await self._profile(AccountStatus.DEACTIVATED, key, retry)

    async def _profile_on(self, key: str, retry: RetryPolicy | None) -> None:
        await self._profile(AccountStatus.ACTIVE, key, retry)

    async def _account(self, disabled: bool, key: str, retry: RetryPolicy | None) -> None:
        out = await SET_ACCOUNT_STATUS.execute(
            SetAccountStatusInput(self._input.user_id, disabled, key), retry_policy=retry
        )
        self._result.sessions_revoked += out.sessions_revoked

    async def _account_off(self, key: str, retry: RetryPolicy | None) -> None:
        await self._account(True, key, retry)

    async def _account_on(self, key: str, retry: RetryPolicy | None) -> None:
        await self._account(False, key, retry)

    async def _members(self, status: str, key: str, retry: RetryPolicy | None) -> None:
        user_id = self._input.user_id
        out = await SET_USER_MEMBERSHIPS.execute(
            SetUserMembershipsInput(user_id, status, key), retry_policy=retry
        )
        entry_status = DirectoryStatus.SUSPENDED if status == SUSPENDED else DirectoryStatus.ACTIVE
        for m in out.memberships:
            claims = (
                no_claims(user_id, m.tenant_id)
                if status == SUSPENDED
                else claims_for_role(user_id, m.tenant_id, m.role, m.permissions)
            )
            await SYNC_PRINCIPAL_CLAIMS.execute(claims, retry_policy=retry)
            await SYNC_DIRECTORY.execute(
                SyncDirectoryInput(
                    m.tenant_id,
                    [DirectoryEntry(user_id, m.role, entry_status.value)],
                    f"{key}:directory:{m.tenant_id}",
                ),
                retry_policy=retry,
            )
        self._result.tenant_ids = sorted(m.tenant_id for m in out.memberships)

    async def _members_off(self, key: str, retry: RetryPolicy | None) -> None:
        await self._members(SUSPENDED, key, retry)

    async def _members_on(self, key: str, retry: RetryPolicy | None) -> None:
        await self._members(ACTIVE, key, retry)

    async def _files(self, restore: bool, key: str, retry: RetryPolicy | None) -> None:
        tenant_ids: list[str] = []
        if not restore and workflow.patched(FILE_TRANSFER_PATCH):
            actor_tenant = self._input.tenant_id
            tenant_ids = [actor_tenant] if actor_tenant else list(self._result.tenant_ids)
        out = await TRANSFER_USER_FILES.execute(
            TransferUserFilesInput(
                user_id=self._input.user_id,
                policy=self._input.file_policy,
                to_user_id=self._input.transfer_to,
                idempotency_key=key,
                restore=restore,
                tenant_ids=tenant_ids,
            ),
            retry_policy=retry,
        )
        self._result.files_transferred += out.transferred

    async def _files_off(self, key: str, retry: RetryPolicy | None) -> None:
        await self._files(False, key, retry)

    async def _files_on(self, key: str, retry: RetryPolicy | None) -> None:
        await self._files(True, key, retry)
