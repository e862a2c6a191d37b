"""``tenant_upgrade``: a plan change paid through the billing provider (docs/billing.md).

1. ``prepare_upgrade``: the actor holds ``billing.manage``; the tenant is a billing customer.
2. ``start_plan_change``: the provider swaps the plan (prorated) and charges the difference.
3. The payment is confirmed: paid at once, or a ``payment`` signal (a verified Stripe webhook,
   ``POST /billing/webhooks/stripe``) re-checked at the provider (``payment_status``), before
   ``input.payment_timeout_seconds``.
4. ``put_storage_policy`` (file service, the plan's quota row; version-guarded by the time of
   this step), then ``apply_plan``: only now do the tenant's plan and quotas change. An
   ``apply_plan`` that fails for good puts the previous plan's policy back.

A declined, failed or timed-out payment restores the old plan at the provider
(``restore_plan``, the saga's compensation) and leaves the tenant row untouched. One upgrade per
tenant at a time: the workflow id is ``tenant-upgrade-<tenant id>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.common.progress import PROGRESS_QUERY, Progress, ProgressState, ProgressTracker
    from workflows.file.quota_contracts import PUT_STORAGE_POLICY, STORAGE_POLICY_PATCH
    from workflows.tenant.contracts import TenantError, TenantWorkflow
    from workflows.tenant.storage_policy import plan_policy
    from workflows.tenant.upgrade_contracts import (
        APPLY_PLAN,
        PAYMENT_STATUS,
        PREPARE_UPGRADE,
        RESTORE_PLAN,
        START_PLAN_CHANGE,
        ApplyPlanInput,
        ChangePlanInput,
        ChangePlanOutput,
        PaymentStatusInput,
        PrepareUpgradeInput,
        RestorePlanInput,
    )

PAYMENT_SIGNAL = "payment"
DEFAULT_PAYMENT_TIMEOUT_SECONDS = 900.0
PAID = "paid"
PENDING = "pending"
FAILED = "failed"
#: Signals beyond this are ignored (a flood of webhooks cannot grow the history without bound).
MAX_PAYMENT_SIGNALS = 20


@dataclass
class TenantUpgradeInput:
    tenant_id: str
    actor_id: str
    plan: str
    billing_email: str
    payment_method_id: str | None = None
    payment_timeout_seconds: float = DEFAULT_PAYMENT_TIMEOUT_SECONDS


@dataclass
class TenantUpgradeResult:
    tenant_id: str
    plan: str
    previous_plan: str
    seat_quota: int
    storage_quota_bytes: int
    invoice_id: str | None
    amount_due: int


@dataclass
class PaymentEvent:
    """A verified provider event about an invoice (sent by the webhook route)."""

    event_id: str
    invoice_id: str
    #: ``paid`` or ``failed`` as the event reports it; re-checked at the provider.
    payment: str


def tenant_upgrade_workflow_id(tenant_id: str) -> str:
    """One plan change per tenant at a time: starting again is refused while one runs."""
    return f"tenant-upgrade-{tenant_id}"


def _failed(message: str, kind: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


def _cause_type(error: ActivityError, default: str) -> str:
    cause = error.cause
    return (cause.type or default) if isinstance(cause, ApplicationError) else default


@workflow.defn(name=TenantWorkflow.TENANT_UPGRADE)
class TenantUpgradeWorkflow:
    @workflow.init
    def __init__(self, input: TenantUpgradeInput) -> None:
        self._progress = ProgressTracker(total=4)
        self._invoice_id: str | None = None
        #: The latest outcome a signal reported for this change's invoice (None: none yet).
        self._reported: str | None = None
        self._signals = 0

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress.current

    @workflow.signal(name=PAYMENT_SIGNAL)
    def payment(self, event: PaymentEvent) -> None:
        self._signals += 1
        if self._signals > MAX_PAYMENT_SIGNALS or event.payment not in (PAID, FAILED):
            return
        if self._invoice_id is not None and event.invoice_id == self._invoice_id:
            self._reported = event.payment

    @workflow.run
    async def run(self, input: TenantUpgradeInput) -> TenantUpgradeResult:
        info = workflow.info()
        key = f"{info.workflow_id}:{info.run_id}"

        self._progress.advance(0, "checking the tenant and its billing account")
        try:
            prepared = await PREPARE_UPGRADE.execute(
                PrepareUpgradeInput(
                    tenant_id=input.tenant_id,
                    actor_id=input.actor_id,
                    plan=input.plan,
                    payment_method_id=input.payment_method_id,
                    billing_email=input.billing_email,
                    idempotency_key=f"{key}:customer",
                )
            )
        except ActivityError as error:
            kind = _cause_type(error, TenantError.BILLING_UNAVAILABLE)
            self._progress.set_state(ProgressState.failed, "the plan change could not start")
            raise _failed("the plan change could not start", kind) from error

        self._progress.advance(1, "charging the plan change")
        try:
            change = await START_PLAN_CHANGE.execute(
                ChangePlanInput(
                    customer_id=prepared.customer_id,
                    subscription_id=prepared.subscription_id,
                    plan=input.plan,
                    idempotency_key=f"{key}:change",
                )
            )
        except ActivityError as error:
            # The provider refused the change itself: nothing changed there or here.
            kind = _cause_type(error, TenantError.BILLING_UNAVAILABLE)
            self._progress.set_state(ProgressState.failed, "the plan was not changed")
            raise _failed("the provider refused the plan change", kind) from error
        self._invoice_id = change.invoice_id

        outcome = change.payment
        if outcome == PENDING:
            outcome = await self._wait_for_payment(change, input.payment_timeout_seconds)

        if outcome != PAID:
            kind = (
                TenantError.PAYMENT_TIMED_OUT if outcome == PENDING else TenantError.PAYMENT_FAILED
            )
            self._progress.set_state(ProgressState.compensating, "restoring the previous plan")
            await RESTORE_PLAN.execute(
                RestorePlanInput(
                    subscription_id=change.subscription_id,
                    previous_plan=change.previous_plan,
                    invoice_id=change.invoice_id,
                    created_subscription=prepared.subscription_id is None,
                    idempotency_key=f"{key}:restore",
                )
            )
            self._progress.set_state(ProgressState.failed, "the payment did not go through")
            detail = f" ({change.failure})" if change.failure else ""
            raise _failed(f"the plan change was not paid{detail}; the plan is unchanged", kind)

        self._progress.advance(3, "applying the new plan")
        policy = workflow.patched(STORAGE_POLICY_PATCH)
        try:
            if policy:
                # The file service's quota row first, versioned by this decision's time: a
                # late retry of an older change never overwrites it.
                await PUT_STORAGE_POLICY.execute(
                    plan_policy(
                        input.tenant_id, input.plan, workflow.now().isoformat(), f"{key}:policy"
                    )
                )
            applied = await APPLY_PLAN.execute(
                ApplyPlanInput(
                    tenant_id=input.tenant_id,
                    plan=input.plan,
                    customer_id=prepared.customer_id,
                    subscription_id=change.subscription_id,
                    idempotency_key=f"{key}:apply",
                )
            )
        except ActivityError:
            if policy:
                # Compensation: the previous plan's policy back, at a later version.
                self._progress.set_state(ProgressState.compensating, "restoring the storage quota")
                await PUT_STORAGE_POLICY.execute(
                    plan_policy(
                        input.tenant_id,
                        prepared.current_plan,
                        workflow.now().isoformat(),
                        f"{key}:policy:undo",
                    )
                )
            raise
        self._progress.advance(4, f"on the {applied.plan} plan", ProgressState.completed)
        return TenantUpgradeResult(
            tenant_id=input.tenant_id,
            plan=applied.plan,
            previous_plan=prepared.current_plan,
            seat_quota=applied.seat_quota,
            storage_quota_bytes=applied.storage_quota_bytes,
            invoice_id=change.invoice_id,
            amount_due=change.amount_due,
        )

    async def _wait_for_payment(self, change: ChangePlanOutput, timeout_seconds: float) -> str:
        """Wait for a webhook about this invoice; believe only what the provider says when
        asked (a signal is a hint, never a confirmation). On timeout, ask once more."""
        self._progress.advance(2, "waiting for the payment to be confirmed", ProgressState.waiting)
        assert change.invoice_id is not None
        deadline = workflow.now() + timedelta(seconds=max(timeout_seconds, 1.0))
        while True:
            remaining = (deadline - workflow.now()).total_seconds()
            if remaining > 0:
                try:
                    await workflow.wait_condition(
                        lambda: self._reported is not None, timeout=timedelta(seconds=remaining)
                    )
                except TimeoutError:
                    pass
            self._reported = None
            status = await PAYMENT_STATUS.execute(PaymentStatusInput(change.invoice_id))
            if status.payment != PENDING or workflow.now() >= deadline:
                return status.payment
