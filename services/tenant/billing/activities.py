"""``tenant_upgrade``'s activities on ``<prefix>-tenant``. Each provider write carries a key
derived from the workflow id, run and step (``<workflow id>:<run id>:change``, ...), so a retried
activity never creates a second customer or charges twice; ``apply_plan`` writes the same row
values however often it runs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from services.common.resources import Resources
from services.common.security_context import (
    ActorKind,
    require_context,
    require_flow,
    require_flow_step,
)
from services.tenant.billing.factory import billing_provider
from services.tenant.billing.provider import (
    BillingError,
    BillingInputError,
    BillingProvider,
    PaymentMethodDeclinedError,
)
from storage.db import transaction
from storage.tenants.models import Tenant
from storage.tenants.repository import MembershipRepository, RoleRepository
from workflows.common.errors import business_error
from workflows.tenant import upgrade_contracts as contracts
from workflows.tenant.contracts import TenantError, TenantWorkflow
from workflows.tenant.permissions import Permission, built_in_permissions
from workflows.tenant.plans import PLANS, Plan

FLOWS = (TenantWorkflow.TENANT_UPGRADE,)
ACTIVE = "active"


def _uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise business_error(TenantError.INVALID_INPUT, f"invalid {what}") from None


def _plan(raw: str) -> Plan:
    try:
        return Plan(raw)
    except ValueError:
        raise business_error(TenantError.INVALID_INPUT, f"unknown plan {raw!r}") from None


def _billing_failure(error: BillingError) -> Exception:
    """Input and declines are final (the run compensates or fails); an outage is retried."""
    if isinstance(error, PaymentMethodDeclinedError):
        return business_error(TenantError.PAYMENT_FAILED, str(error))
    if isinstance(error, BillingInputError):
        return business_error(TenantError.INVALID_INPUT, str(error))
    if error.retryable:
        return error  # a plain exception: Temporal retries the activity
    return business_error(TenantError.BILLING_UNAVAILABLE, str(error))


class UpgradeActivities:
    def __init__(self, resources: Resources, provider: BillingProvider | None = None) -> None:
        self.database = resources.database
        self.provider = provider or billing_provider(resources.settings)

    @contracts.PREPARE_UPGRADE.implement
    async def prepare_upgrade(
        self, input: contracts.PrepareUpgradeInput
    ) -> contracts.PrepareUpgradeOutput:
        context = require_flow_step(input.idempotency_key, *FLOWS)
        tenant_id = _uuid(input.tenant_id, "tenant id")
        actor_id = _uuid(input.actor_id, "user id")
        plan = _plan(input.plan)
        if context.actor != ActorKind.system and not context.acts_for(input.actor_id):
            raise business_error(TenantError.PERMISSION_DENIED, "the run acts for another user")
        async with transaction(self.database, tenant_id) as db:
            tenant = await db.get(Tenant, tenant_id)
            if tenant is None:
                raise business_error(TenantError.TENANT_NOT_FOUND, f"tenant {tenant_id} not found")
            if tenant.status != ACTIVE:
                raise business_error(TenantError.TENANT_NOT_ACTIVE, "the tenant is not active")
            if context.actor != ActorKind.system:
                membership = await MembershipRepository(db, tenant_id).of_user(actor_id)
                if membership is None:
                    raise business_error(TenantError.NOT_A_MEMBER, f"tenant {tenant_id} not found")
                granted = built_in_permissions(membership.role)
                if granted is None:
                    role = await RoleRepository(db, tenant_id).by_name(membership.role)
                    granted = frozenset(
                        Permission(p)
                        for p in (role.permissions if role else [])
                        if p in Permission._value2member_map_
                    )
                if Permission.BILLING_MANAGE not in granted:
                    raise business_error(
                        TenantError.PERMISSION_DENIED, "this needs the permission billing.manage"
                    )
            current = _plan(tenant.plan)
            customer_id, subscription_id = (
                tenant.billing_customer_id,
                tenant.billing_subscription_id,
            )
            name = tenant.name
        if plan == current:
            raise business_error(TenantError.INVALID_INPUT, f"the tenant is already on {plan}")
        if PLANS[plan].stripe_plan_id is None:
            raise business_error(
                TenantError.INVALID_INPUT,
                "moving to the free plan is a cancellation, not an upgrade",
            )
        try:
            if customer_id is None:
                customer_id = await self.provider.create_customer(
                    str(tenant_id), input.billing_email, name, input.idempotency_key
                )
                async with transaction(self.database, tenant_id) as db:
                    row = await db.get(Tenant, tenant_id, with_for_update=True)
                    assert row is not None
                    row.billing_customer_id = customer_id
            if input.payment_method_id is not None:
                await self.provider.attach_payment_method(
                    customer_id, input.payment_method_id, f"{input.idempotency_key}:card"
                )
        except BillingError as error:
            raise _billing_failure(error) from error
        return contracts.PrepareUpgradeOutput(
            current_plan=current.value,
            customer_id=customer_id,
            subscription_id=subscription_id,
            provider=self.provider.name,
        )

    @contracts.START_PLAN_CHANGE.implement
    async def start_plan_change(
        self, input: contracts.ChangePlanInput
    ) -> contracts.ChangePlanOutput:
        require_flow_step(input.idempotency_key, *FLOWS)
        plan = _plan(input.plan)
        try:
            if input.subscription_id is None:
                subscription = await self.provider.create_subscription(
                    input.customer_id, plan, input.idempotency_key
                )
                invoice, previous = subscription.latest_invoice, Plan.FREE
                subscription_id = subscription.id
            else:
                change = await self.provider.change_plan(
                    input.subscription_id, plan, input.idempotency_key
                )
                invoice, previous = change.invoice, change.previous_plan
                subscription_id = change.subscription.id
        except BillingError as error:
            raise _billing_failure(error) from error
        return contracts.ChangePlanOutput(
            subscription_id=subscription_id,
            previous_plan=previous.value,
            invoice_id=invoice.id if invoice else None,
            payment=invoice.payment.value if invoice else "paid",
            amount_due=invoice.amount_due if invoice else 0,
            failure=invoice.failure if invoice else None,
        )

    @contracts.PAYMENT_STATUS.implement
    async def payment_status(
        self, input: contracts.PaymentStatusInput
    ) -> contracts.PaymentStatusOutput:
        require_flow(require_context(), *FLOWS)  # read-only: no key of its own
        try:
            invoice = await self.provider.get_invoice(input.invoice_id)
        except BillingError as error:
            raise _billing_failure(error) from error
        return contracts.PaymentStatusOutput(
            payment=invoice.payment.value, invoice_status=invoice.status
        )

    @contracts.APPLY_PLAN.implement
    async def apply_plan(self, input: contracts.ApplyPlanInput) -> contracts.ApplyPlanOutput:
        require_flow_step(input.idempotency_key, *FLOWS)
        tenant_id = _uuid(input.tenant_id, "tenant id")
        terms = PLANS[_plan(input.plan)]
        async with transaction(self.database, tenant_id) as db:
            tenant = await db.get(Tenant, tenant_id, with_for_update=True)
            if tenant is None:
                raise business_error(TenantError.TENANT_NOT_FOUND, f"tenant {tenant_id} not found")
            tenant.plan = terms.plan.value
            tenant.seat_quota = terms.seat_quota
            tenant.storage_quota_bytes = terms.storage_quota_bytes
            tenant.billing_customer_id = input.customer_id
            tenant.billing_subscription_id = input.subscription_id
        return contracts.ApplyPlanOutput(
            plan=terms.plan.value,
            seat_quota=terms.seat_quota,
            storage_quota_bytes=terms.storage_quota_bytes,
        )

    @contracts.RESTORE_PLAN.implement
    async def restore_plan(self, input: contracts.RestorePlanInput) -> contracts.RestorePlanOutput:
        require_flow_step(input.idempotency_key, *FLOWS)
        previous = _plan(input.previous_plan)
        try:
            if input.created_subscription or PLANS[previous].stripe_plan_id is None:
                await self.provider.cancel_subscription(
                    input.subscription_id, input.idempotency_key
                )
            else:
                await self.provider.revert_plan(
                    input.subscription_id, previous, input.invoice_id, input.idempotency_key
                )
        except BillingError as error:
            raise _billing_failure(error) from error
        return contracts.RestorePlanOutput(plan=previous.value)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.prepare_upgrade,
            self.start_plan_change,
            self.payment_status,
            self.apply_plan,
            self.restore_plan,
        ]
