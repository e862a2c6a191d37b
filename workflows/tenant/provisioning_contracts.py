"""Activity contracts of ``tenant_provisioning`` (docs/tenancy.md), and the tenant mail step
the other tenant flows share.

Every write takes an idempotency key ``<workflow id>:<run id>:<step>``; the tenant row keeps the
key of the run that created it, and every later step (and every compensation) acts only on a
tenant that run created."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.common.contracts import ActivityContract
from workflows.tenant.contracts import TENANT
from workflows.tenant.permissions import Permission

#: The blob-store prefix of a tenant's files (``storage_prefix``).
STORAGE_PREFIX = "tenants/{tenant_id}/"
#: Custom roles every new tenant starts with (owners may change or delete them).
DEFAULT_ROLES: dict[str, tuple[str, frozenset[Permission]]] = {
    "billing-manager": (
        "Manages the plan and billing, sees members and runs.",
        frozenset({Permission.BILLING_MANAGE, Permission.USERS_READ, Permission.WORKFLOWS_READ}),
    ),
    "people-manager": (
        "Invites and manages members.",
        frozenset({Permission.MEMBERS_INVITE, Permission.MEMBERS_MANAGE, Permission.USERS_READ}),
    ),
}


def storage_prefix(tenant_id: str) -> str:
    return STORAGE_PREFIX.format(tenant_id=tenant_id)


# --- the tenant row ---------------------------------------------------------------------------


@dataclass
class CreateTenantInput:
    #: Chosen by the workflow (``workflow.uuid4()``), so a retried step names the same tenant.
    tenant_id: str
    slug: str
    name: str
    plan: str
    owner_id: str
    idempotency_key: str


@dataclass
class CreateTenantOutput:
    tenant_id: str
    #: False when this key had created it already (a retried step).
    created: bool
    seat_quota: int
    storage_quota_bytes: int


CREATE_TENANT = ActivityContract(
    "tenant.create_tenant", TENANT, CreateTenantInput, CreateTenantOutput
)


@dataclass
class ProvisionedTenantInput:
    """A later step of the run that created ``tenant_id`` (its key names the run)."""

    tenant_id: str
    idempotency_key: str


@dataclass
class AddOwnerOutput:
    membership_id: str


ADD_OWNER = ActivityContract("tenant.add_owner", TENANT, ProvisionedTenantInput, AddOwnerOutput)


@dataclass
class CreateDefaultRolesOutput:
    roles: list[str] = field(default_factory=list)


CREATE_DEFAULT_ROLES = ActivityContract(
    "tenant.create_default_roles", TENANT, ProvisionedTenantInput, CreateDefaultRolesOutput
)


@dataclass
class CreateBillingCustomerInput:
    tenant_id: str
    #: The owner's address, the customer's contact.
    email: str
    idempotency_key: str


@dataclass
class CreateBillingCustomerOutput:
    customer_id: str


CREATE_BILLING_CUSTOMER = ActivityContract(
    "tenant.create_billing_customer",
    TENANT,
    CreateBillingCustomerInput,
    CreateBillingCustomerOutput,
)


@dataclass
class RemoveBillingCustomerOutput:
    removed: bool


#: Compensation of ``CREATE_BILLING_CUSTOMER``: the provider's customer is deleted
#: (``BillingProvider.delete_customer``, idempotent), and the tenant row forgets it.
REMOVE_BILLING_CUSTOMER = ActivityContract(
    "tenant.remove_billing_customer",
    TENANT,
    ProvisionedTenantInput,
    RemoveBillingCustomerOutput,
)


@dataclass
class ActivateTenantInput:
    tenant_id: str
    storage_prefix: str
    idempotency_key: str


@dataclass
class ActivateTenantOutput:
    status: str


ACTIVATE_TENANT = ActivityContract(
    "tenant.activate_tenant", TENANT, ActivateTenantInput, ActivateTenantOutput
)


@dataclass
class DeleteProvisionedTenantOutput:
    deleted: bool


#: Compensation of ``CREATE_TENANT`` (and with it of the owner membership and the default roles:
#: the tenant row's deletion cascades to every tenants-schema row of the tenant).
DELETE_PROVISIONED_TENANT = ActivityContract(
    "tenant.delete_provisioned_tenant",
    TENANT,
    ProvisionedTenantInput,
    DeleteProvisionedTenantOutput,
)


# --- mail (every tenant flow) -------------------------------------------------------------------


class TenantMail:
    """Templates of ``SEND_TENANT_MAIL`` (stable: histories record them)."""

    WELCOME = "tenant_welcome"
    SUSPENDED = "tenant_suspended"
    RESUMED = "tenant_resumed"
    DELETION_SCHEDULED = "tenant_deletion_scheduled"
    DELETED = "tenant_deleted"
    MEMBER_REMOVED = "member_removed"


@dataclass
class SendTenantMailInput:
    tenant_id: str
    template: str
    #: The addresses (from ``auth.account_emails``); one mail each.
    to: list[str]
    #: Each recipient's mail is keyed ``<key>:<address>``: a retried step sends none twice.
    idempotency_key: str
    tenant_name: str = ""
    #: For ``tenant_deletion_scheduled``: when the data goes (ISO 8601).
    delete_after: str | None = None


@dataclass
class SendTenantMailOutput:
    sent: int


SEND_TENANT_MAIL = ActivityContract(
    "tenant.send_tenant_mail", TENANT, SendTenantMailInput, SendTenantMailOutput
)
