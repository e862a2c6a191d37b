"""``POST /tenants/{tenant_id}/upgrade``: a plan change, which the ``tenant_upgrade`` workflow
carries out (charge with proration, wait for the payment's confirmation, then the new quotas;
a failed or timed-out payment leaves the old plan). Needs ``billing.manage`` in the tenant the
caller's token is for; answers 202 with the run's id, 409 while another plan change of the
tenant runs (the workflow id is per tenant)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from services.common.app import ResourcesDep
from services.common.openapi import problem_response
from services.common.principal import PrincipalDep
from services.common.tenant_db import TenantDb
from services.tenant.access import require_permission
from services.tenant.errors import tenant_error
from services.tenant.schemas import WorkflowStarted
from services.tenant.starts import start
from storage.tenants.repository import TenantRepository
from workflows.tenant.contracts import TenantError
from workflows.tenant.permissions import Permission
from workflows.tenant.plans import Plan, terms
from workflows.tenant.tenant_upgrade import (
    TenantUpgradeInput,
    TenantUpgradeWorkflow,
    tenant_upgrade_workflow_id,
)

router = APIRouter(prefix="/tenants/{tenant_id}", tags=["billing"])
BUSY = "a plan change of this tenant is in progress"
REFUSED: dict[int | str, dict[str, Any]] = {
    403: problem_response(403, "The caller lacks billing.manage"),
    404: problem_response(404, "No such tenant, or the caller is not a member"),
    409: problem_response(409, "Already on that plan, the tenant is not active, or a change runs"),
}


class UpgradeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: Plan
    #: The provider's payment method to charge (Stripe: ``pm_...``); none: the customer's default.
    payment_method_id: str | None = Field(default=None, max_length=255, pattern=r"^[A-Za-z0-9_]+$")
    #: Where invoices go, if the tenant has no billing customer yet (provisioning makes one).
    billing_email: EmailStr | None = Field(default=None, max_length=320)


@router.post("/upgrade", status_code=202, responses=REFUSED)
async def upgrade_tenant(
    tenant_id: uuid.UUID,
    body: UpgradeIn,
    principal: PrincipalDep,
    db: TenantDb,
    resources: ResourcesDep,
) -> WorkflowStarted:
    await require_permission(db, principal, tenant_id, Permission.BILLING_MANAGE)
    tenant = await TenantRepository(db).get(tenant_id)
    if tenant is None:
        raise tenant_error(TenantError.TENANT_NOT_FOUND, f"tenant {tenant_id} not found")
    if tenant.plan == body.plan.value:
        raise tenant_error(TenantError.INVALID_INPUT, f"the tenant is already on {body.plan}")
    if terms(body.plan).stripe_plan_id is None:
        raise tenant_error(TenantError.INVALID_INPUT, "a plan change goes to a paid plan")
    return await start(
        resources,
        principal,
        TenantUpgradeWorkflow.run,
        TenantUpgradeInput(
            tenant_id=str(tenant_id),
            actor_id=principal.user_id,
            plan=body.plan.value,
            billing_email=str(body.billing_email or ""),
            payment_method_id=body.payment_method_id,
            payment_timeout_seconds=resources.settings.billing_payment_timeout_seconds,
        ),
        workflow_id=tenant_upgrade_workflow_id(str(tenant_id)),
        busy=BUSY,
    )
