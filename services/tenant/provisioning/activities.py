"""``tenant_provisioning``'s activities on ``<prefix>-tenant`` (and the tenant mail every tenant
flow sends). Each is idempotent on its key; each later step, and each compensation, acts only on
a tenant this very run created (its row keeps the run's key)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

from services.common.mailer import Mailer, mailer_from_settings
from services.common.resources import Resources
from services.common.security_context import denied
from services.tenant.billing.factory import billing_provider
from services.tenant.billing.provider import BillingError, BillingProvider
from services.tenant.provisioning.steps import (
    created_by_this_run,
    existing_tenant,
    parse_id,
    require_actor,
    step_context,
    tenant_mail,
)
from storage.db import IntegrityError, transaction
from storage.tenants.lifecycle import delete_tenant, insert_tenant, tenant_row
from storage.tenants.models import Tenant, TenantStatus
from storage.tenants.repository import MembershipRepository, RoleRepository
from workflows.common.errors import business_error
from workflows.tenant import provisioning_contracts as contracts
from workflows.tenant import rules
from workflows.tenant.contracts import TenantError, TenantWorkflow
from workflows.tenant.permissions import BuiltInRole
from workflows.tenant.plans import terms

PROVISIONING = (TenantWorkflow.TENANT_PROVISIONING,)
#: Every tenant flow mails (welcome, suspension, deletion).
MAILING = (
    TenantWorkflow.TENANT_PROVISIONING,
    TenantWorkflow.TENANT_SUSPENSION,
    TenantWorkflow.MEMBERSHIP_CHANGE,
)
#: How long a sent mail's key is remembered (a retried step within it sends none twice).
MAIL_KEY_SECONDS = 7 * 24 * 3600


class ProvisioningActivities:
    def __init__(
        self,
        resources: Resources,
        *,
        billing: BillingProvider | None = None,
        mailer: Mailer | None = None,
    ) -> None:
        self.resources = resources
        self.database = resources.database
        self.billing = billing or billing_provider(resources.settings)
        self.mailer = mailer or mailer_from_settings(resources.settings)

    async def _own(self, input: contracts.ProvisionedTenantInput) -> tuple[uuid.UUID, Tenant]:
        """The tenant of a later step: created by this run, still being provisioned."""
        context = step_context(input.idempotency_key, *PROVISIONING)
        tenant_id = parse_id(input.tenant_id, "tenant id")
        async with transaction(self.database, tenant_id) as db:
            tenant = await existing_tenant(db, tenant_id, lock=False)
        if not created_by_this_run(context, tenant):
            raise denied("this run did not create the tenant")
        return tenant_id, tenant

    @contracts.CREATE_TENANT.implement
    async def create_tenant(
        self, input: contracts.CreateTenantInput
    ) -> contracts.CreateTenantOutput:
        context = step_context(input.idempotency_key, *PROVISIONING)
        owner_id = require_actor(context, input.owner_id)
        tenant_id = parse_id(input.tenant_id, "tenant id")
        try:
            slug, name, plan = (
                rules.check_slug(input.slug),
                rules.clean_name(input.name),
                terms(input.plan),
            )
        except ValueError as error:
            raise business_error(TenantError.INVALID_INPUT, str(error)) from error
        async with transaction(self.database, tenant_id) as db:
            existing = await tenant_row(db, tenant_id)
        if existing is not None:
            if existing.idempotency_key != input.idempotency_key:
                raise business_error(TenantError.INVALID_INPUT, "that tenant id is taken")
            return contracts.CreateTenantOutput(
                input.tenant_id, False, existing.seat_quota, existing.storage_quota_bytes
            )
        try:
            async with transaction(self.database, tenant_id) as db:
                await insert_tenant(
                    db,
                    Tenant(
                        id=tenant_id,
                        slug=slug,
                        name=name,
                        status=TenantStatus.PROVISIONING.value,
                        plan=plan.plan.value,
                        seat_quota=plan.seat_quota,
                        storage_quota_bytes=plan.storage_quota_bytes,
                        settings={},
                        created_by=owner_id,
                        idempotency_key=input.idempotency_key,
                    ),
                )
        except IntegrityError as error:
            raise business_error(
                TenantError.SLUG_TAKEN, f"the slug {slug!r} is taken; choose another"
            ) from error
        return contracts.CreateTenantOutput(
            input.tenant_id, True, plan.seat_quota, plan.storage_quota_bytes
        )

    @contracts.ADD_OWNER.implement
    async def add_owner(self, input: contracts.ProvisionedTenantInput) -> contracts.AddOwnerOutput:
        tenant_id, tenant = await self._own(input)
        async with transaction(self.database, tenant_id) as db:
            members = MembershipRepository(db, tenant_id)
            membership = await members.of_user(tenant.created_by)
            if membership is None:
                membership = await members.add_member(tenant.created_by, BuiltInRole.OWNER.value)
        return contracts.AddOwnerOutput(membership_id=str(membership.id))

    @contracts.CREATE_DEFAULT_ROLES.implement
    async def create_default_roles(
        self, input: contracts.ProvisionedTenantInput
    ) -> contracts.CreateDefaultRolesOutput:
        tenant_id, _ = await self._own(input)
        async with transaction(self.database, tenant_id) as db:
            roles = RoleRepository(db, tenant_id)
            for name, (description, permissions) in contracts.DEFAULT_ROLES.items():
                await roles.create(name, description, [p.value for p in permissions])
        return contracts.CreateDefaultRolesOutput(roles=sorted(contracts.DEFAULT_ROLES))

    @contracts.CREATE_BILLING_CUSTOMER.implement
    async def create_billing_customer(
        self, input: contracts.CreateBillingCustomerInput
    ) -> contracts.CreateBillingCustomerOutput:
        tenant_id, tenant = await self._own(
            contracts.ProvisionedTenantInput(input.tenant_id, input.idempotency_key)
        )
        if tenant.billing_customer_id:
            return contracts.CreateBillingCustomerOutput(tenant.billing_customer_id)
        try:
            customer = await self.billing.create_customer(
                str(tenant_id), input.email, tenant.name, input.idempotency_key
            )
        except BillingError as error:
            if error.retryable:
                raise  # retried with back-off
            raise business_error(TenantError.BILLING_UNAVAILABLE, str(error)) from error
        async with transaction(self.database, tenant_id) as db:
            row = await existing_tenant(db, tenant_id)
            row.billing_customer_id = customer
        return contracts.CreateBillingCustomerOutput(customer)

    @contracts.REMOVE_BILLING_CUSTOMER.implement
    async def remove_billing_customer(
        self, input: contracts.ProvisionedTenantInput
    ) -> contracts.RemoveBillingCustomerOutput:
        context = step_context(input.idempotency_key, *PROVISIONING)
        tenant_id = parse_id(input.tenant_id, "tenant id")
        async with transaction(self.database, tenant_id) as db:
            tenant = await tenant_row(db, tenant_id, lock=True)
            if tenant is None or not tenant.billing_customer_id:
                return contracts.RemoveBillingCustomerOutput(removed=False)
            if not created_by_this_run(context, tenant):
                raise denied("this run did not create the tenant")
            customer = tenant.billing_customer_id
            # Idempotent at the provider: a retry after a lost answer finds it gone, no error.
            try:
                await self.billing.delete_customer(
                    customer, f"{input.idempotency_key}:billing:undo"
                )
            except BillingError as error:
                if error.retryable:
                    raise  # retried with back-off (UNDO_RETRY)
                raise business_error(TenantError.BILLING_UNAVAILABLE, str(error)) from error
            tenant.billing_customer_id = None
        return contracts.RemoveBillingCustomerOutput(removed=True)

    @contracts.ACTIVATE_TENANT.implement
    async def activate_tenant(
        self, input: contracts.ActivateTenantInput
    ) -> contracts.ActivateTenantOutput:
        tenant_id, _ = await self._own(
            contracts.ProvisionedTenantInput(input.tenant_id, input.idempotency_key)
        )
        if input.storage_prefix != contracts.storage_prefix(str(tenant_id)):
            raise business_error(TenantError.INVALID_INPUT, "not this tenant's storage prefix")
        async with transaction(self.database, tenant_id) as db:
            tenant = await existing_tenant(db, tenant_id)
            if tenant.status == TenantStatus.PROVISIONING.value:
                tenant.status = TenantStatus.ACTIVE.value
                tenant.storage_prefix = input.storage_prefix
        return contracts.ActivateTenantOutput(status=tenant.status)

    @contracts.DELETE_PROVISIONED_TENANT.implement
    async def delete_provisioned_tenant(
        self, input: contracts.ProvisionedTenantInput
    ) -> contracts.DeleteProvisionedTenantOutput:
        context = step_context(input.idempotency_key, *PROVISIONING)
        tenant_id = parse_id(input.tenant_id, "tenant id")
        async with transaction(self.database, tenant_id) as db:
            tenant = await tenant_row(db, tenant_id, lock=True)
            if tenant is None:
                return contracts.DeleteProvisionedTenantOutput(deleted=False)
            if not created_by_this_run(context, tenant):
                raise denied("this run did not create the tenant")
            deleted = await delete_tenant(db, tenant_id)
        return contracts.DeleteProvisionedTenantOutput(deleted=deleted)

    @contracts.SEND_TENANT_MAIL.implement
    async def send_tenant_mail(
        self, input: contracts.SendTenantMailInput
    ) -> contracts.SendTenantMailOutput:
        step_context(input.idempotency_key, *MAILING)
        redis, keys = self.resources.redis, self.resources.redis_keys
        sent = 0
        for address in sorted(set(input.to)):
            message = tenant_mail(
                input.template,
                address,
                input.tenant_name,
                input.delete_after,
                input.idempotency_key,
            )
            digest = hashlib.sha256(f"{input.idempotency_key}:{address}".encode()).hexdigest()
            claim = keys("tenant", "mail-sent", digest)
            if not await redis.set(claim, "1", nx=True, ex=MAIL_KEY_SECONDS):
                continue  # sent by an earlier attempt
            try:
                await self.mailer.send(message)
            except Exception:
                await redis.delete(claim)  # not sent: a retry may send it
                raise
            sent += 1
        return contracts.SendTenantMailOutput(sent=sent)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.create_tenant,
            self.add_owner,
            self.create_default_roles,
            self.create_billing_customer,
            self.remove_billing_customer,
            self.activate_tenant,
            self.delete_provisioned_tenant,
            self.send_tenant_mail,
        ]
