"""Activity contracts of ``tenant_upgrade`` (tenant service, task queue ``<prefix>-tenant``);
its error types are ``TenantError.PAYMENT_FAILED``, ``PAYMENT_TIMED_OUT`` and
``BILLING_UNAVAILABLE`` among the others of ``workflows/tenant/contracts.py``."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.common.contracts import ActivityContract
from workflows.tenant.contracts import TENANT


@dataclass
class PrepareUpgradeInput:
    """Check the actor may change the plan and make sure the tenant is a billing customer."""

    tenant_id: str
    actor_id: str
    plan: str
    #: A card from the provider's client-side form (``pm_...``), or None to keep the default.
    payment_method_id: str | None
    billing_email: str
    idempotency_key: str


@dataclass
class PrepareUpgradeOutput:
    current_plan: str
    customer_id: str
    #: None while the tenant is on the free plan.
    subscription_id: str | None
    provider: str


PREPARE_UPGRADE = ActivityContract(
    "tenant.prepare_upgrade", TENANT, PrepareUpgradeInput, PrepareUpgradeOutput
)


@dataclass
class ChangePlanInput:
    customer_id: str
    #: None: a first subscription is made (from the free plan).
    subscription_id: str | None
    plan: str
    idempotency_key: str


@dataclass
class ChangePlanOutput:
    subscription_id: str
    previous_plan: str
    #: The invoice of this change (first period or prorated difference).
    invoice_id: str | None
    #: ``paid``, ``pending`` or ``failed`` (``services.tenant.billing.provider.PaymentStatus``).
    payment: str
    amount_due: int
    failure: str | None = None


START_PLAN_CHANGE = ActivityContract(
    "tenant.start_plan_change", TENANT, ChangePlanInput, ChangePlanOutput
)


@dataclass
class PaymentStatusInput:
    invoice_id: str


@dataclass
class PaymentStatusOutput:
    payment: str
    invoice_status: str


PAYMENT_STATUS = ActivityContract(
    "tenant.payment_status", TENANT, PaymentStatusInput, PaymentStatusOutput
)


@dataclass
class ApplyPlanInput:
    """Set the confirmed plan and its quotas on the tenant row (after payment only)."""

    tenant_id: str
    plan: str
    customer_id: str
    subscription_id: str
    idempotency_key: str


@dataclass
class ApplyPlanOutput:
    plan: str
    seat_quota: int
    storage_quota_bytes: int


APPLY_PLAN = ActivityContract("tenant.apply_plan", TENANT, ApplyPlanInput, ApplyPlanOutput)


@dataclass
class RestorePlanInput:
    """Undo an unpaid change at the provider: back to ``previous_plan``, or the subscription
    made by this run cancelled when the previous plan was free."""

    subscription_id: str
    previous_plan: str
    invoice_id: str | None
    created_subscription: bool
    idempotency_key: str


@dataclass
class RestorePlanOutput:
    plan: str


RESTORE_PLAN = ActivityContract("tenant.restore_plan", TENANT, RestorePlanInput, RestorePlanOutput)
