"""``gdpr_erasure`` (queue ``<prefix>-workflow``; GDPR Art. 17): one person removed or anonymised
in every schema, blob store, Redis and Temporal's visibility, ending with a signed receipt.

1. ``auth.compliance_subject``: the account and any operator's legal hold (a hold ends the run
   at once, outcome ``legal_hold``, nothing erased);
2. ``auth.erasure_revoke_sessions``: every session revoked at once (a stolen session cannot
   act during the grace period; signing in again to cancel still works);
3. ``tenant.compliance_memberships``: tenants they alone own must first be transferred or
   deleted: the run waits (``erasure_state`` says for which) for the ``decide_tenants`` update,
   per tenant a member who becomes its owner (``tenant.compliance_transfer_ownership``) or
   ``delete`` (patch ``erasure-tenant-deletion``);
4. the grace period: a durable timer of ``grace_seconds``; ``cancel_erasure`` (the person) or a
   cancellation of the run ends it, ownership transfers undone, outcome ``cancelled``;
5. the hold checked once more; the tenants chosen for deletion that they still alone own are
   deleted, each by the tenant service's own deletion, a ``tenant_suspension`` child (action
   ``delete``, no grace period of its own, no export) on ``<prefix>-tenant``; a deletion that
   fails leaves that tenant theirs, so the run asks again (then a new grace period). Then the
   tenants once more, and the point of no return: each service
   erases (idempotent, retried until done): files and blobs, tenant rows, user rows, Redis keys,
   the account and its audit entries, and the person's other runs (deleted executions: their
   search attributes name the person);
6. ``workflow.sign_erasure_receipt`` and ``workflow.mail_erasure_receipt`` (to the address read
   in step 1).

Started as the platform (``system``): the run carries no ``AdxUserId`` and the subject is only in
its (encrypted) input; the audit trail names them by pseudonym (``subject_ref``).
Id: ``gdpr-erasure-<subject_ref>`` (one erasure per person at a time).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ChildWorkflowError, WorkflowAlreadyStartedError
from temporalio.workflow import ChildWorkflowCancellationType, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from workflows.auth.compliance_contracts import (
        COMPLIANCE_SUBJECT,
        ERASE_AUTH_DATA,
        RECORD_COMPLIANCE_EVENT,
        REVOKE_ALL_SESSIONS,
        ComplianceEvent,
        SubjectInput,
        SubjectOutput,
    )
    from workflows.auth.principal_contracts import SYNC_PRINCIPAL_CLAIMS
    from workflows.common.compliance import ErasePartInput, ErasePartOutput
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.common.queues import sibling_queue
    from workflows.compliance.contracts import (
        CANCEL_ERASURE,
        DECIDE_TENANTS,
        ERASURE_STATE_QUERY,
        GDPR_ERASURE,
        MAIL_RECEIPT,
        PURGE_REDIS,
        PURGE_RUNS,
        SIGN_RECEIPT,
        CancelErasureInput,
        DecideTenantsInput,
        DecideTenantsOutput,
        ErasureInput,
        ErasureOutcome,
        ErasureResult,
        ErasureState,
        MailReceiptInput,
        PurgeRedisInput,
        PurgeRunsInput,
        Receipt,
        SignReceiptInput,
        TenantAction,
    )
    from workflows.file.compliance_contracts import ERASE_FILE_DATA
    from workflows.tenant.compliance_contracts import (
        COMPLIANCE_MEMBERSHIPS,
        ERASE_TENANT_DATA,
        TRANSFER_OWNERSHIP,
        MembershipsInput,
        TransferOwnershipInput,
    )
    from workflows.tenant.membership_contracts import claims_for_role
    from workflows.tenant.tenant_suspension import (
        SuspensionAction,
        TenantSuspensionInput,
        TenantSuspensionWorkflow,
        tenant_deletion_workflow_id,
    )
    from workflows.user.compliance_contracts import ERASE_USER_DATA

STEPS = 6
#: A sole-owned tenant may be deleted instead of transferred (the update's ``delete``).
TENANT_DELETION_PATCH = "erasure-tenant-deletion"
#: After the point of no return a step is retried until it is done (each is idempotent).
ERASE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=0,
)


def gdpr_erasure_workflow_id(subject_ref: str) -> str:
    return f"gdpr-erasure-{subject_ref}"


@dataclass
class _Transfer:
    tenant_id: str
    new_owner_id: str
    previous_role: str


@workflow.defn(name=GDPR_ERASURE)
class GdprErasureWorkflow:
    @workflow.init
    def __init__(self, input: ErasureInput) -> None:
        self._input = input
        self._progress = ProgressTracker(STEPS)
        self._state = ErasureState(phase="checking")
        self._cancelled = ""
        self._transfers: list[_Transfer] = []
        #: Tenants deleted for this run (counted on the receipt).
        self._deleted: list[str] = []

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.query(name=ERASURE_STATE_QUERY)
    def erasure_state(self) -> ErasureState:
        return self._state

    @workflow.signal(name=CANCEL_ERASURE)
    def cancel_erasure(self, input: CancelErasureInput) -> None:
        if self._state.cancellable:
            self._cancelled = input.reason or "cancelled by the person"

    @workflow.update(name=DECIDE_TENANTS)
    async def decide_tenants(self, input: DecideTenantsInput) -> DecideTenantsOutput:
        refused: list[str] = []
        for decision in input.decisions:
            if decision.tenant_id not in self._state.waiting_for_tenants:
                refused.append(decision.tenant_id)
                continue
            if decision.action == TenantAction.DELETE and workflow.patched(TENANT_DELETION_PATCH):
                # Nothing is deleted yet: the grace period comes first (a cancel forgets it).
                self._state.deleting_tenants.append(decision.tenant_id)
                self._decided(decision.tenant_id)
                await self._audit(
                    "compliance.erasure_tenant_deletion_chosen", tenant_id=decision.tenant_id
                )
                continue
            if decision.action != TenantAction.TRANSFER or not decision.new_owner_id:
                refused.append(decision.tenant_id)
                continue
            done = await TRANSFER_OWNERSHIP.execute(
                TransferOwnershipInput(
                    decision.tenant_id, self._input.user_id, decision.new_owner_id
                )
            )
            if not done.transferred:
                refused.append(decision.tenant_id)
                continue
            self._transfers.append(
                _Transfer(decision.tenant_id, decision.new_owner_id, done.previous_role)
            )
            # The new owner's token claims follow their role (as every membership change's).
            await SYNC_PRINCIPAL_CLAIMS.execute(
                claims_for_role(decision.new_owner_id, decision.tenant_id, "owner")
            )
            self._decided(decision.tenant_id)
            await self._audit("compliance.erasure_tenant_transferred", tenant_id=decision.tenant_id)
        return DecideTenantsOutput(list(self._state.waiting_for_tenants), refused)

    def _decided(self, tenant_id: str) -> None:
        self._state.waiting_for_tenants = [
            t for t in self._state.waiting_for_tenants if t != tenant_id
        ]

    @decide_tenants.validator
    def _validate_decision(self, input: DecideTenantsInput) -> None:
        if self._state.phase != "waiting_for_tenants":
            raise ValueError("the erasure is not waiting for a decision on tenants")

    async def _audit(self, event: str, **detail: str) -> None:
        await RECORD_COMPLIANCE_EVENT.execute(
            ComplianceEvent(
                event, self._input.erasure_id, subject_ref=self._input.subject_ref, detail=detail
            )
        )

    @workflow.run
    async def run(self, input: ErasureInput) -> ErasureResult:
        subject = await COMPLIANCE_SUBJECT.execute(SubjectInput(input.user_id, input.erasure_id))
        if not subject.found:
            return self._end(ErasureOutcome.NOT_FOUND)
        if subject.legal_hold:
            return await self._held()
        await self._audit("compliance.erasure_requested")
        self._progress.advance(1, "sessions")
        await REVOKE_ALL_SESSIONS.execute(SubjectInput(input.user_id, input.erasure_id))
        tenant_ids: list[str] | None
        try:
            tenant_ids = await self._wait_for_tenants()
            if not self._cancelled:
                tenant_ids = await self._grace(tenant_ids)
        except asyncio.CancelledError:
            await self._undo("the run was cancelled")
            raise
        if self._cancelled:
            await self._undo(self._cancelled)
            return self._end(ErasureOutcome.CANCELLED, self._cancelled)
        if tenant_ids is None:
            return await self._held()
        return await self._erase(subject, tenant_ids)

    async def _wait_for_tenants(self) -> list[str]:
        self._progress.advance(2, "tenants")
        memberships = await COMPLIANCE_MEMBERSHIPS.execute(MembershipsInput(self._input.user_id))
        chosen = self._transferred() | set(self._state.deleting_tenants)
        pending = [t for t in memberships.sole_owned if t not in chosen]
        if pending:
            self._state.waiting_for_tenants = pending
            self._state.phase, self._state.cancellable = "waiting_for_tenants", True
            self._progress.advance(2, "waiting for a new owner", ProgressState.waiting)
            decided = await _wait(
                lambda: not self._state.waiting_for_tenants or bool(self._cancelled),
                self._input.decision_seconds,
            )
            if not decided and not self._cancelled:
                self._cancelled = "no decision on the tenants the person alone owns"
        return memberships.tenant_ids

    async def _grace(self, tenant_ids: list[str]) -> list[str] | None:
        """The grace period; then the hold and the tenants once more. None: a hold now."""
        self._state.phase = "grace"
        self._state.grace_ends_at = int(workflow.now().timestamp()) + self._input.grace_seconds
        self._progress.advance(3, "grace period", ProgressState.waiting)
        await _wait(lambda: bool(self._cancelled), self._input.grace_seconds)
        if self._cancelled:
            return tenant_ids
        subject = await COMPLIANCE_SUBJECT.execute(
            SubjectInput(self._input.user_id, self._input.erasure_id)
        )
        if subject.legal_hold:
            return None
        memberships = await COMPLIANCE_MEMBERSHIPS.execute(MembershipsInput(self._input.user_id))
        if self._state.deleting_tenants:
            await self._delete_tenants(memberships.sole_owned)
            memberships = await COMPLIANCE_MEMBERSHIPS.execute(
                MembershipsInput(self._input.user_id)
            )
        if [t for t in memberships.sole_owned if t not in self._transferred()]:
            # A tenant became theirs alone meanwhile: ask again, then a new grace period.
            tenant_ids = await self._wait_for_tenants()
            if self._cancelled:
                return tenant_ids
            return await self._grace(tenant_ids)
        return memberships.tenant_ids

    def _transferred(self) -> set[str]:
        return {t.tenant_id for t in self._transfers}

    async def _delete_tenants(self, sole_owned: list[str]) -> None:
        """The tenants chosen for deletion that the person still alone owns, each deleted by
        the tenant service's own deletion (a child on its queue). A deletion cannot be undone,
        so no cancel is taken from here on; one that fails leaves the tenant as it was (its
        saga), and the caller asks about it again."""
        self._state.phase, self._state.cancellable = "deleting_tenants", False
        self._progress.advance(3, "deleting tenants")
        for tenant_id in list(self._state.deleting_tenants):
            if tenant_id not in sole_owned:
                # Another owner meanwhile (or gone already): the tenant is no longer theirs alone.
                await self._audit("compliance.erasure_tenant_kept", tenant_id=tenant_id)
                continue
            try:
                await workflow.execute_child_workflow(
                    TenantSuspensionWorkflow.run,
                    TenantSuspensionInput(
                        tenant_id,
                        SuspensionAction.DELETE.value,
                        self._input.user_id,
                        grace_seconds=0.0,
                        export=False,
                    ),
                    id=tenant_deletion_workflow_id(tenant_id),
                    task_queue=sibling_queue("tenant"),
                    # Once begun, a tenant's deletion finishes whatever happens to this run.
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    cancellation_type=ChildWorkflowCancellationType.ABANDON,
                )
            except (ChildWorkflowError, WorkflowAlreadyStartedError) as error:
                workflow.logger.warning("tenant deletion for the erasure failed: %s", error)
                await self._audit("compliance.erasure_tenant_deletion_failed", tenant_id=tenant_id)
                continue
            self._deleted.append(tenant_id)
            await self._audit("compliance.erasure_tenant_deleted", tenant_id=tenant_id)
        self._state.deleting_tenants = []

    async def _undo(self, reason: str) -> None:
        """Before the point of no return: the ownership transfers made for this run reverted
        (the revoked sessions stay revoked: the person signs in again)."""
        self._progress.set_state(ProgressState.compensating, "undoing")
        for transfer in reversed(self._transfers):
            await TRANSFER_OWNERSHIP.execute(
                TransferOwnershipInput(
                    transfer.tenant_id,
                    self._input.user_id,
                    transfer.new_owner_id,
                    role=transfer.previous_role,
                )
            )
            await SYNC_PRINCIPAL_CLAIMS.execute(
                claims_for_role(transfer.new_owner_id, transfer.tenant_id, transfer.previous_role)
            )
        self._transfers.clear()
        await self._audit("compliance.erasure_cancelled", reason=reason[:200])

    async def _held(self) -> ErasureResult:
        await self._audit("compliance.erasure_held")
        return self._end(ErasureOutcome.LEGAL_HOLD, "an operator's legal hold")

    async def _erase(self, subject: SubjectOutput, tenant_ids: list[str]) -> ErasureResult:
        input = self._input
        self._state.phase, self._state.cancellable = "erasing", False
        self._state.waiting_for_tenants = []
        self._progress.advance(4, "erasing")
        await self._audit("compliance.erasure_started")
        part = ErasePartInput(input.erasure_id, input.user_id, subject.email, tenant_ids)
        parts: list[ErasePartOutput] = []
        for contract in (ERASE_FILE_DATA, ERASE_TENANT_DATA, ERASE_USER_DATA):
            parts.append(await contract.execute(part, retry_policy=ERASE_RETRY))
        parts.append(
            await PURGE_REDIS.execute(
                PurgeRedisInput(input.user_id, subject.email), retry_policy=ERASE_RETRY
            )
        )
        parts.append(await ERASE_AUTH_DATA.execute(part, retry_policy=ERASE_RETRY))
        parts.append(
            await PURGE_RUNS.execute(PurgeRunsInput(input.user_id), retry_policy=ERASE_RETRY)
        )
        if self._deleted:
            parts.append(ErasePartOutput("tenant_deletion", {"tenants": len(self._deleted)}))
        self._progress.advance(5, "receipt")
        receipt = Receipt(input.erasure_id, input.subject_ref, workflow.now().isoformat(), parts)
        signed = await SIGN_RECEIPT.execute(SignReceiptInput(receipt), retry_policy=ERASE_RETRY)
        await MAIL_RECEIPT.execute(
            MailReceiptInput(input.erasure_id, subject.email, signed), retry_policy=ERASE_RETRY
        )
        await self._audit("compliance.erasure_completed")
        self._state.phase = "erased"
        result = self._end(ErasureOutcome.ERASED)
        result.receipt = signed
        return result

    def _end(self, outcome: ErasureOutcome, detail: str = "") -> ErasureResult:
        self._state.phase, self._state.cancellable = outcome.value, False
        self._progress.advance(STEPS, outcome.value, ProgressState.completed)
        return ErasureResult(self._input.erasure_id, outcome.value, detail=detail)


async def _wait(condition: object, seconds: int) -> bool:
    """True when ``condition`` held before ``seconds`` passed (a durable timer)."""
    try:
        await workflow.wait_condition(condition, timeout=timedelta(seconds=seconds))  # type: ignore[arg-type]
    except TimeoutError:
        return False
    return True
