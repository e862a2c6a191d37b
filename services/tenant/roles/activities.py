"""``role_change``'s activities on ``<prefix>-tenant``: a custom role created or deleted under
the same rules as the roles API (``routes.py``): the actor's ``roles.manage``, nobody grants
what they do not hold, built-in roles untouchable, a role in use not deleted, at most
``MAX_CUSTOM_ROLES``. Each change is committed with its outcome under its idempotency key
(``tenants.membership_change_outcomes``, the tenant changes' outcome record), so a retried
step answers the first outcome instead of finding "its" role taken or gone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from services.common.resources import Resources
from services.tenant.provisioning.steps import (
    actor_membership,
    existing_tenant,
    parse_id,
    require_actor,
    step_context,
)
from storage.db import transaction
from storage.tenants.models import TenantStatus
from storage.tenants.repository import MembershipChangeOutcomeRepository, RoleRepository
from workflows.common.errors import business_error
from workflows.tenant import role_change_contracts as contracts
from workflows.tenant import rules
from workflows.tenant.contracts import TenantError, TenantWorkflow
from workflows.tenant.permissions import (
    MAX_CUSTOM_ROLES,
    BuiltInRole,
    Permission,
    UnknownPermissionError,
    built_in_permissions,
    is_built_in,
    parse_permissions,
    valid_custom_role_name,
)

FLOWS = (TenantWorkflow.ROLE_CHANGE,)


def _permissions(values: list[str] | None) -> frozenset[Permission]:
    if values is None:
        return built_in_permissions(BuiltInRole.MEMBER.value) or frozenset()
    try:
        return parse_permissions(values)
    except UnknownPermissionError as error:
        raise business_error(TenantError.INVALID_INPUT, str(error)) from None


class RoleActivities:
    def __init__(self, resources: Resources) -> None:
        self.database = resources.database

    @contracts.CREATE_ROLE.implement
    async def create_role(self, input: contracts.CreateRoleInput) -> contracts.CreateRoleOutput:
        context = step_context(input.idempotency_key, *FLOWS)
        actor_id = require_actor(context, input.actor_id)
        tenant_id = parse_id(input.tenant_id, "tenant id")
        if not valid_custom_role_name(input.name):
            raise business_error(
                TenantError.INVALID_INPUT,
                "a custom role's name is 3-40 lower-case letters, digits and hyphens, starting "
                "with a letter, and not a built-in role's",
            )
        permissions = _permissions(input.permissions)
        try:
            async with transaction(self.database, tenant_id) as db:
                outcomes = MembershipChangeOutcomeRepository(db, tenant_id)
                recorded = await outcomes.of_key(input.idempotency_key)
                if recorded is not None:  # created by an earlier attempt of this step
                    return contracts.CreateRoleOutput(**{**recorded, "created": False})
                tenant = await existing_tenant(db, tenant_id)
                if tenant.status != TenantStatus.ACTIVE.value:
                    raise business_error(
                        TenantError.TENANT_NOT_ACTIVE, f"the tenant is {tenant.status}"
                    )
                _, held = await actor_membership(
                    db, context, tenant_id, actor_id, (Permission.ROLES_MANAGE,)
                )
                rules.check_grant(held, permissions)
                roles = RoleRepository(db, tenant_id)
                if await roles.count() >= MAX_CUSTOM_ROLES:
                    raise business_error(
                        TenantError.INVALID_INPUT,
                        f"a tenant has at most {MAX_CUSTOM_ROLES} custom roles",
                    )
                values = sorted(p.value for p in permissions)
                row = await roles.create(input.name, input.description[:500], values)
                if row is None:
                    raise business_error(
                        TenantError.ROLE_EXISTS, f"a role named {input.name!r} exists"
                    )
                output = contracts.CreateRoleOutput(input.name, True, values)
                await outcomes.record(input.idempotency_key, asdict(output))
        except rules.RuleViolation as violation:
            raise business_error(violation.error, violation.message) from None
        return output

    @contracts.DELETE_ROLE.implement
    async def delete_role(self, input: contracts.DeleteRoleInput) -> contracts.DeleteRoleOutput:
        context = step_context(input.idempotency_key, *FLOWS)
        actor_id = require_actor(context, input.actor_id)
        tenant_id = parse_id(input.tenant_id, "tenant id")
        if is_built_in(input.name):
            raise business_error(
                TenantError.INVALID_INPUT, f"{input.name!r} is a built-in role: it stays"
            )
        async with transaction(self.database, tenant_id) as db:
            outcomes = MembershipChangeOutcomeRepository(db, tenant_id)
            recorded = await outcomes.of_key(input.idempotency_key)
            if recorded is not None:  # deleted by an earlier attempt of this step
                return contracts.DeleteRoleOutput(**recorded)
            tenant = await existing_tenant(db, tenant_id)
            if tenant.status != TenantStatus.ACTIVE.value:
                raise business_error(
                    TenantError.TENANT_NOT_ACTIVE, f"the tenant is {tenant.status}"
                )
            await actor_membership(db, context, tenant_id, actor_id, (Permission.ROLES_MANAGE,))
            roles = RoleRepository(db, tenant_id)
            row = await roles.by_name(input.name)
            if row is None:
                output = contracts.DeleteRoleOutput(input.name, False)
            else:
                if await roles.in_use(row.name):
                    raise business_error(
                        TenantError.ROLE_IN_USE,
                        f"role {input.name!r} is held by members, offered by invitations or "
                        "used for auto-join",
                    )
                output = contracts.DeleteRoleOutput(
                    input.name, True, row.description, sorted(row.permissions)
                )
                await roles.remove(row)
            await outcomes.record(input.idempotency_key, asdict(output))
        return output

    def all(self) -> list[Callable[..., Any]]:
        return [self.create_role, self.delete_role]
