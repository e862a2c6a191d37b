"""``tenant_provisioning``: a new tenant, whole or not at all (docs/tenancy.md).

Steps: the tenant row (status ``provisioning``, quotas from the plan), the owner's membership,
the default custom roles, a billing customer, the storage prefix and the plan's storage policy
(file service), the owner's claims (auth), activation; then a welcome mail to the owner.

Saga: each step's compensation is registered *before* the step runs (every compensation is
idempotent, so undoing a step that never wrote is harmless, and a step that wrote and then
timed out is undone too); when a step fails they run in reverse order and leave no row, claim,
customer or marker behind in any schema. The membership and the roles go with the tenant row
(its deletion cascades). The welcome mail is sent after activation: a tenant whose mail could
not be sent is still whole, so it is not undone for that.

The workflow id is ``tenant-provisioning-<slug>``: a double submit joins (or is refused by) the
running run instead of racing it; the slug's uniqueness itself is the tenants table's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.auth.account_contracts import ACCOUNT_EMAILS, AccountEmailsInput
    from workflows.auth.principal_contracts import SYNC_PRINCIPAL_CLAIMS
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.file.quota_contracts import (
        PUT_STORAGE_POLICY,
        REMOVE_STORAGE_POLICY,
        STORAGE_POLICY_PATCH,
        RemoveStoragePolicyInput,
    )
    from workflows.file.tenant_storage_contracts import (
        ERASE_TENANT_STORAGE,
        PROVISION_TENANT_STORAGE,
        EraseTenantStorageInput,
        ProvisionTenantStorageInput,
    )
    from workflows.tenant import rules
    from workflows.tenant.contracts import TenantError, TenantWorkflow
    from workflows.tenant.membership_contracts import claims_for_role, no_claims
    from workflows.tenant.permissions import BuiltInRole
    from workflows.tenant.plans import Plan
    from workflows.tenant.provisioning_contracts import (
        ACTIVATE_TENANT,
        ADD_OWNER,
        CREATE_BILLING_CUSTOMER,
        CREATE_DEFAULT_ROLES,
        CREATE_TENANT,
        DELETE_PROVISIONED_TENANT,
        REMOVE_BILLING_CUSTOMER,
        SEND_TENANT_MAIL,
        ActivateTenantInput,
        CreateBillingCustomerInput,
        CreateTenantInput,
        ProvisionedTenantInput,
        SendTenantMailInput,
        TenantMail,
        storage_prefix,
    )
    from workflows.tenant.storage_policy import plan_policy
    from workflows.user.directory_contracts import (
        DIRECTORY_COPY_PATCH,
        SYNC_DIRECTORY,
        DirectoryEntry,
        SyncDirectoryInput,
    )

TOTAL_STEPS = 8
#: Compensations retry longer than steps: giving up on one leaves an orphan behind.
UNDO_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=30,
)


@dataclass
class TenantProvisioningInput:
    slug: str
    name: str
    owner_id: str
    plan: str = Plan.FREE.value


@dataclass
class TenantProvisioningResult:
    tenant_id: str
    slug: str
    status: str
    welcome_mail_sent: bool = False


def tenant_provisioning_workflow_id(slug: str) -> str:
    """One provisioning per slug at a time: a double submit meets the running one."""
    return f"tenant-provisioning-{slug}"


def _cause_type(error: BaseException) -> str | None:
    cause = error.cause if isinstance(error, ActivityError) else error
    return cause.type if isinstance(cause, ApplicationError) else None


def _failure_message(error: BaseException) -> str:
    cause = error.cause if isinstance(error, ActivityError) else error
    return str(cause) if cause is not None else str(error)


@workflow.defn(name=TenantWorkflow.TENANT_PROVISIONING)
class TenantProvisioningWorkflow:
    @workflow.init
    def __init__(self, input: TenantProvisioningInput) -> None:
        self._progress = ProgressTracker(total=TOTAL_STEPS)
        self._undo: list[tuple[str, Callable[[], Awaitable[object]]]] = []

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.run
    async def run(self, input: TenantProvisioningInput) -> TenantProvisioningResult:
        try:
            slug = rules.check_slug(input.slug)
            name = rules.clean_name(input.name)
            plan = Plan(input.plan).value
        except ValueError as error:  # RuleViolation is one; so is an unknown plan
            self._progress.set_state(ProgressState.failed, "invalid input")
            raise ApplicationError(
                str(error), type=TenantError.INVALID_INPUT, non_retryable=True
            ) from None

        info = workflow.info()
        key = f"{info.workflow_id}:{info.run_id}"
        tenant_id = str(workflow.uuid4())
        owned = ProvisionedTenantInput(tenant_id=tenant_id, idempotency_key=f"{key}:tenant")
        prefix = storage_prefix(tenant_id)
        try:
            self._step(1, "creating the tenant")
            self._on_failure(
                "deleting the tenant",
                lambda: DELETE_PROVISIONED_TENANT.execute(owned, retry_policy=UNDO_RETRY),
            )
            await CREATE_TENANT.execute(
                CreateTenantInput(
                    tenant_id=tenant_id,
                    slug=slug,
                    name=name,
                    plan=plan,
                    owner_id=input.owner_id,
                    idempotency_key=owned.idempotency_key,
                )
            )

            self._step(2, "adding the owner")
            await ADD_OWNER.execute(owned)

            self._step(3, "creating the default roles")
            await CREATE_DEFAULT_ROLES.execute(owned)

            self._step(4, "creating the billing customer")
            accounts = await ACCOUNT_EMAILS.execute(AccountEmailsInput(user_ids=[input.owner_id]))
            if not accounts.accounts:
                raise ApplicationError(
                    "the owner has no account", type=TenantError.INVALID_INPUT, non_retryable=True
                )
            owner_email = accounts.accounts[0].email
            self._on_failure(
                "removing the billing customer",
                lambda: REMOVE_BILLING_CUSTOMER.execute(owned, retry_policy=UNDO_RETRY),
            )
            await CREATE_BILLING_CUSTOMER.execute(
                CreateBillingCustomerInput(
                    tenant_id=tenant_id, email=owner_email, idempotency_key=f"{key}:billing"
                )
            )

            self._step(5, "preparing the tenant's storage")
            self._on_failure(
                "erasing the tenant's storage",
                lambda: ERASE_TENANT_STORAGE.execute(
                    EraseTenantStorageInput(
                        tenant_id=tenant_id, prefix=prefix, idempotency_key=f"{key}:storage:undo"
                    ),
                    retry_policy=UNDO_RETRY,
                ),
            )
            await PROVISION_TENANT_STORAGE.execute(
                ProvisionTenantStorageInput(
                    tenant_id=tenant_id, prefix=prefix, idempotency_key=f"{key}:storage"
                )
            )
            if workflow.patched(STORAGE_POLICY_PATCH):
                # The file service's copy of the plan's storage terms (its quota row).
                self._on_failure(
                    "removing the tenant's storage policy",
                    lambda: REMOVE_STORAGE_POLICY.execute(
                        RemoveStoragePolicyInput(tenant_id, f"{key}:policy:undo"),
                        retry_policy=UNDO_RETRY,
                    ),
                )
                await PUT_STORAGE_POLICY.execute(
                    plan_policy(tenant_id, plan, workflow.now().isoformat(), f"{key}:policy")
                )

            self._step(6, "granting the owner's claims")
            self._on_failure(
                "removing the owner's claims",
                lambda: SYNC_PRINCIPAL_CLAIMS.execute(
                    no_claims(input.owner_id, tenant_id), retry_policy=UNDO_RETRY
                ),
            )
            await SYNC_PRINCIPAL_CLAIMS.execute(
                claims_for_role(input.owner_id, tenant_id, BuiltInRole.OWNER.value)
            )
            if workflow.patched(DIRECTORY_COPY_PATCH):
                # The user service's copy of the membership (its directory).
                self._on_failure(
                    "removing the owner from the directory",
                    lambda: SYNC_DIRECTORY.execute(
                        SyncDirectoryInput(
                            tenant_id,
                            [DirectoryEntry(input.owner_id, None)],
                            f"{key}:directory:undo",
                        ),
                        retry_policy=UNDO_RETRY,
                    ),
                )
                await SYNC_DIRECTORY.execute(
                    SyncDirectoryInput(
                        tenant_id,
                        [DirectoryEntry(input.owner_id, BuiltInRole.OWNER.value)],
                        f"{key}:directory",
                    )
                )

            self._step(7, "activating the tenant")
            await ACTIVATE_TENANT.execute(
                ActivateTenantInput(
                    tenant_id=tenant_id, storage_prefix=prefix, idempotency_key=f"{key}:activate"
                )
            )
        except (ActivityError, ApplicationError) as error:
            await self._compensate()
            kind = _cause_type(error) or TenantError.PROVISIONING_FAILED
            self._progress.set_state(ProgressState.failed, "the tenant was not created")
            raise ApplicationError(
                f"tenant provisioning failed: {_failure_message(error)}",
                type=kind,
                non_retryable=True,
            ) from error

        self._step(8, "sending the welcome mail")
        sent = False
        try:
            mailed = await SEND_TENANT_MAIL.execute(
                SendTenantMailInput(
                    tenant_id=tenant_id,
                    template=TenantMail.WELCOME,
                    to=[owner_email],
                    idempotency_key=f"{key}:welcome",
                    tenant_name=name,
                )
            )
            sent = mailed.sent > 0
        except ActivityError:
            # The tenant is whole; a lost welcome mail is not worth undoing it for.
            workflow.logger.exception("tenant provisioned, but the welcome mail failed")
        self._progress.advance(TOTAL_STEPS, "tenant ready", ProgressState.completed)
        return TenantProvisioningResult(
            tenant_id=tenant_id, slug=slug, status="active", welcome_mail_sent=sent
        )

    def _step(self, step: int, label: str) -> None:
        self._progress.advance(step - 1, label)

    def _on_failure(self, label: str, undo: Callable[[], Awaitable[object]]) -> None:
        self._undo.append((label, undo))

    async def _compensate(self) -> None:
        for label, undo in reversed(self._undo):
            self._progress.set_state(ProgressState.compensating, label)
            try:
                await undo()
            except ActivityError:
                workflow.logger.exception("compensation failed: %s", label)
        self._undo.clear()
