"""``tenant_provisioning`` on the real dev server with the auth, tenant and file workers in
process: a whole tenant (rows, owner claims in auth, default roles, quotas from the plan, a
billing customer, a storage prefix, a welcome mail), and, with each step failing in turn, no
trace of it in any schema. With ``ADX_RECORD_HISTORIES=1`` the happy run is the replay history
(``tests/histories/tenant_provisioning.json``)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import Settings
from services.tenant.billing.local import LocalBillingProvider
from services.tenant.provisioning.activities import ProvisioningActivities
from tests.auth.mail_flows import record_history, wait_for_outbox
from tests.auth.users import create_user
from tests.tenant.workflows.stack import (
    failing,
    scheduled_tenant_id,
    start_provisioning,
    traces,
)
from workflows.auth.account_contracts import ACCOUNT_EMAILS
from workflows.auth.principal_contracts import SYNC_PRINCIPAL_CLAIMS
from workflows.common.progress import Progress, ProgressState
from workflows.file.tenant_storage_contracts import PROVISION_TENANT_STORAGE
from workflows.tenant.plans import PLANS, Plan
from workflows.tenant.provisioning_contracts import (
    ACTIVATE_TENANT,
    ADD_OWNER,
    CREATE_BILLING_CUSTOMER,
    CREATE_DEFAULT_ROLES,
    CREATE_TENANT,
    DEFAULT_ROLES,
    REMOVE_BILLING_CUSTOMER,
    SEND_TENANT_MAIL,
)
from workflows.tenant.tenant_provisioning import TenantProvisioningResult

pytestmark = pytest.mark.timeout(120)


def _slug() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


async def test_provisioning_creates_a_whole_tenant(
    temporal: Client,
    settings: Settings,
    tenant_stack: Any,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    file_resources: Resources,
) -> None:
    owner = await create_user(auth_runtime)
    slug = _slug()
    async with tenant_stack() as stack:
        handle = await start_provisioning(temporal, stack, owner.id, slug, plan="team")
        result: TenantProvisioningResult = await handle.result()
        progress = await handle.query("progress", result_type=Progress)
        await record_history(handle, "tenant_provisioning")
    found = await traces(
        result.tenant_id,
        [owner.id],
        tenant_resources=tenant_resources,
        auth_resources=auth_resources,
        file_resources=file_resources,
    )
    mails = await wait_for_outbox(settings, owner.email)

    assert result.status == "active" and result.slug == slug and result.welcome_mail_sent
    assert progress.state == ProgressState.completed and progress.percent == 100
    tenant = found.tenant
    assert tenant.status == "active" and tenant.plan == "team"
    assert tenant.seat_quota == PLANS[Plan.TEAM].seat_quota
    assert tenant.storage_quota_bytes == PLANS[Plan.TEAM].storage_quota_bytes
    assert tenant.billing_customer_id and tenant.billing_customer_id.startswith("cus_")
    assert tenant.storage_prefix == f"tenants/{result.tenant_id}/" and found.marker
    assert [(m.user_id, m.role, m.status) for m in found.members] == [(owner.id, "owner", "active")]
    assert set(found.roles) == set(DEFAULT_ROLES)
    assert found.claims[str(owner.id)] == ["owner"]
    assert any(slug in str(m["Subject"]) or "ready" in str(m["Subject"]) for m in mails)


STEPS = [
    CREATE_TENANT,
    ADD_OWNER,
    CREATE_DEFAULT_ROLES,
    ACCOUNT_EMAILS,
    CREATE_BILLING_CUSTOMER,
    PROVISION_TENANT_STORAGE,
    SYNC_PRINCIPAL_CLAIMS,
    ACTIVATE_TENANT,
]


class _CountingLocalBilling(LocalBillingProvider):
    """The local provider, remembering every customer it was asked to create."""

    def __init__(self) -> None:
        super().__init__()
        self.created: list[str] = []

    async def create_customer(
        self, tenant_id: str, email: str, name: str, idempotency_key: str
    ) -> str:
        customer = await super().create_customer(tenant_id, email, name, idempotency_key)
        self.created.append(customer)
        return customer


@pytest.mark.parametrize("step", STEPS, ids=[s.name for s in STEPS])
async def test_a_failing_step_leaves_no_trace_in_any_schema(
    step: Any,
    temporal: Client,
    tenant_stack: Any,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    file_resources: Resources,
) -> None:
    owner = await create_user(auth_runtime)
    # The billing steps on one local provider the test holds: the customer the run made (every
    # step after the billing one) must be gone from the provider too, not only from the row.
    billing = _CountingLocalBilling()
    provisioning = ProvisioningActivities(tenant_resources, billing=billing)
    replace: dict[str, Any] = {
        CREATE_BILLING_CUSTOMER.name: provisioning.create_billing_customer,
        REMOVE_BILLING_CUSTOMER.name: provisioning.remove_billing_customer,
    }
    replace[step.name] = failing(step)
    async with tenant_stack(replace=replace) as stack:
        handle = await start_provisioning(temporal, stack, owner.id, _slug())
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        progress = await handle.query("progress", result_type=Progress)
        tenant_id = await scheduled_tenant_id(temporal, handle)
    assert tenant_id is not None
    found = await traces(
        tenant_id,
        [owner.id],
        tenant_resources=tenant_resources,
        auth_resources=auth_resources,
        file_resources=file_resources,
    )

    assert isinstance(failure.value.cause, ApplicationError)
    assert failure.value.cause.type == "InjectedFailure"
    assert progress.state == ProgressState.failed
    assert found.empty, found
    after_billing = STEPS.index(step) > STEPS.index(CREATE_BILLING_CUSTOMER)
    assert bool(billing.created) == after_billing
    assert billing.customers == {}, "the billing customer outlived the failed run"


async def test_a_failing_welcome_mail_leaves_the_tenant_whole(
    temporal: Client,
    tenant_stack: Any,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    file_resources: Resources,
) -> None:
    owner = await create_user(auth_runtime)
    replace = {SEND_TENANT_MAIL.name: failing(SEND_TENANT_MAIL)}
    async with tenant_stack(replace=replace) as stack:
        handle = await start_provisioning(temporal, stack, owner.id, _slug())
        result: TenantProvisioningResult = await handle.result()
    found = await traces(
        result.tenant_id,
        [owner.id],
        tenant_resources=tenant_resources,
        auth_resources=auth_resources,
        file_resources=file_resources,
    )
    assert result.status == "active" and not result.welcome_mail_sent
    assert found.tenant.status == "active" and found.claims[str(owner.id)] == ["owner"]


async def test_a_taken_slug_is_refused_and_a_double_submit_joins_nothing(
    temporal: Client,
    tenant_stack: Any,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    file_resources: Resources,
) -> None:
    first, second = await create_user(auth_runtime), await create_user(auth_runtime)
    slug = _slug()
    async with tenant_stack() as stack:
        handle = await start_provisioning(temporal, stack, first.id, slug)
        with pytest.raises(Exception) as running:  # the same id while the first runs
            await start_provisioning(temporal, stack, second.id, slug)
        await handle.result()
        again = await start_provisioning(temporal, stack, second.id, slug)
        with pytest.raises(WorkflowFailureError) as taken:
            await again.result()
        loser = await scheduled_tenant_id(temporal, again)
    assert loser is not None
    found = await traces(
        loser,
        [second.id],
        tenant_resources=tenant_resources,
        auth_resources=auth_resources,
        file_resources=file_resources,
    )

    assert "already" in str(running.value).lower()
    assert isinstance(taken.value.cause, ApplicationError)
    assert taken.value.cause.type == "SlugTaken"
    assert found.empty
