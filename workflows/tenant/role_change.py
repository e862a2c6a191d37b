"""``role_change``: a custom role created or deleted for the tenant's identity provider (SCIM's
``POST /Groups`` and ``DELETE /Groups/{id}``, docs/users.md), on ``<prefix>-tenant``.

CREATE: the tenant service creates the role (``tenant.create_role``: the actor's
``roles.manage``, the name and the custom-role cap checked against its rows; the permissions
of ``member``, which the actor must hold), then the user service records that SCIM knows it
(``user.sync_scim_group``, with the Group's ``externalId``), so the Group is listed while
nobody holds it. If the record cannot be written the role this run created is deleted again.

DELETE: the tenant service deletes the custom role (refused while a member holds it, an
invitation offers it or a domain's auto-join names it: the SCIM route moves its members to
``member`` first), then the user service forgets it. If it cannot forget, the role is created
again with the permissions and description it had (saga).

Ids: ``role-<kind>-<tenant>-<role name>``: two changes of one role never race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.common.errors import failed_step
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.tenant.contracts import TenantError, TenantWorkflow
    from workflows.tenant.role_change_contracts import (
        CREATE_ROLE,
        DELETE_ROLE,
        SYNC_SCIM_GROUP,
        CreateRoleInput,
        DeleteRoleInput,
        RoleChangeKind,
        SyncScimGroupInput,
    )

UNDO_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=30,
)
#: The user service's step: a few tries, then the change is undone (not retried for ever).
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=5,
)


@dataclass
class RoleChangeInput:
    tenant_id: str
    kind: str
    actor_id: str
    name: str
    #: The Group's ``externalId`` (CREATE).
    external_id: str | None = None


@dataclass
class RoleChangeResult:
    tenant_id: str
    kind: str
    name: str
    #: False: nothing to change (the role was gone already, for a DELETE).
    changed: bool


def role_change_workflow_id(kind: str, tenant_id: str, name: str) -> str:
    return f"role-{kind}-{tenant_id}-{name}"


def _fail(error: BaseException, label: str) -> ApplicationError:
    return failed_step(error, label, TenantError.INVALID_INPUT)


@workflow.defn(name=TenantWorkflow.ROLE_CHANGE)
class RoleChangeWorkflow:
    @workflow.init
    def __init__(self, input: RoleChangeInput) -> None:
        self._progress = ProgressTracker(total=2)

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.run
    async def run(self, input: RoleChangeInput) -> RoleChangeResult:
        info = workflow.info()
        key = f"{info.workflow_id}:{info.run_id}"
        try:
            kind = RoleChangeKind(input.kind)
        except ValueError:
            self._progress.set_state(ProgressState.failed, "unknown change")
            raise ApplicationError(
                f"unknown role change {input.kind!r}",
                type=TenantError.INVALID_INPUT,
                non_retryable=True,
            ) from None
        if kind == RoleChangeKind.CREATE:
            changed = await self._create(input, key)
        else:
            changed = await self._delete(input, key)
        self._progress.advance(2, "role changed", ProgressState.completed)
        return RoleChangeResult(input.tenant_id, kind.value, input.name, changed)

    async def _create(self, input: RoleChangeInput, key: str) -> bool:
        self._progress.advance(0, "creating the role")
        try:
            await CREATE_ROLE.execute(
                CreateRoleInput(input.tenant_id, input.actor_id, input.name, f"{key}:create")
            )
        except ActivityError as error:
            self._progress.set_state(ProgressState.failed, "the role was refused")
            raise _fail(error, "role creation refused") from error
        self._progress.advance(1, "recording the Group")
        try:
            await SYNC_SCIM_GROUP.execute(
                SyncScimGroupInput(
                    input.tenant_id, input.name, True, f"{key}:record", input.external_id
                ),
                retry_policy=RECORD_RETRY,
            )
        except ActivityError as error:
            self._progress.set_state(ProgressState.compensating, "deleting the role again")
            try:
                await DELETE_ROLE.execute(
                    DeleteRoleInput(input.tenant_id, input.actor_id, input.name, f"{key}:undo"),
                    retry_policy=UNDO_RETRY,
                )
            except ActivityError:
                workflow.logger.exception("role creation compensation failed")
            self._progress.set_state(ProgressState.failed, "the role was deleted again")
            raise _fail(error, "role creation undone") from error
        return True

    async def _delete(self, input: RoleChangeInput, key: str) -> bool:
        self._progress.advance(0, "deleting the role")
        try:
            deleted = await DELETE_ROLE.execute(
                DeleteRoleInput(input.tenant_id, input.actor_id, input.name, f"{key}:delete")
            )
        except ActivityError as error:
            self._progress.set_state(ProgressState.failed, "the deletion was refused")
            raise _fail(error, "role deletion refused") from error
        self._progress.advance(1, "forgetting the Group")
        try:
            await SYNC_SCIM_GROUP.execute(
                SyncScimGroupInput(input.tenant_id, input.name, False, f"{key}:forget"),
                retry_policy=RECORD_RETRY,
            )
        except ActivityError as error:
            if deleted.deleted:
                self._progress.set_state(ProgressState.compensating, "restoring the role")
                try:
                    await CREATE_ROLE.execute(
                        CreateRoleInput(
                            input.tenant_id,
                            input.actor_id,
                            input.name,
                            f"{key}:restore",
                            description=deleted.description,
                            permissions=deleted.permissions,
                        ),
                        retry_policy=UNDO_RETRY,
                    )
                except ActivityError:
                    workflow.logger.exception("role deletion compensation failed")
            self._progress.set_state(ProgressState.failed, "the role was restored")
            raise _fail(error, "role deletion undone") from error
        return deleted.deleted
