"""The user service's own steps of ``user_deactivation`` (queue ``<prefix>-user``,
``workflows/user/account_status_contracts.py``): the check of who may (de)activate whom, against
this service's rows, and the profile's status. Only that flow (or the platform) runs them, under
its run's key.

Who may (docs/users.md): the platform (``system``), an operator (``ADX_WORKFLOW_OPERATOR_USER_IDS``),
or a user acting in a tenant (the route checked ``members.manage`` in their token) for another
member of that tenant who belongs to no other tenant (a tenant never locks a user out of
another one), an owner only by an owner. Nobody deactivates themself."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from services.common.resources import Resources
from services.common.security_context import ActorKind, denied, require_flow_step
from storage.db import transaction
from storage.users.directory import DirectoryRepository, MemberEntries
from storage.users.repository import ProfileRepository
from workflows.common.errors import business_error
from workflows.tenant.permissions import BuiltInRole
from workflows.user import account_status_contracts as contracts
from workflows.user.account_status_contracts import AccountStatus
from workflows.user.contracts import UserError, UserWorkflow

FLOW = UserWorkflow.USER_DEACTIVATION
OWNER = BuiltInRole.OWNER.value


def _uuid(raw: str | None, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise business_error(UserError.INVALID_INPUT, f"invalid {what}") from None


def _status(raw: str) -> AccountStatus:
    try:
        return AccountStatus(raw)
    except ValueError:
        raise business_error(UserError.INVALID_INPUT, "unknown account status") from None


def operator_ids(raw: str) -> frozenset[uuid.UUID]:
    """``ADX_WORKFLOW_OPERATOR_USER_IDS``: the platform's operators (ids that do not parse are
    nobody)."""
    ids = set()
    for part in raw.split(","):
        try:
            ids.add(uuid.UUID(part.strip()))
        except ValueError:
            continue
    return frozenset(ids)


def refused(message: str) -> Exception:
    return business_error(UserError.ACCOUNT_CHANGE_REFUSED, message)


class AccountStatusActivities:
    def __init__(self, resources: Resources) -> None:
        self.database = resources.database
        self.operators = operator_ids(resources.settings.workflow_operator_user_ids)

    @contracts.CHECK_ACCOUNT_CHANGE.implement
    async def check_account_change(
        self, input: contracts.CheckAccountChangeInput
    ) -> contracts.CheckAccountChangeOutput:
        context = require_flow_step(input.idempotency_key, FLOW)
        user_id = _uuid(input.user_id, "user id")
        actor_id = _uuid(input.actor_id, "actor id")
        status = _status(input.status)
        if not context.acts_for(input.actor_id):
            raise denied("the run acts for another user than the input names")
        async with transaction(self.database, user_id=user_id) as db:
            profile = await ProfileRepository(db).get(user_id)
            tenants = await MemberEntries(db).tenants_of(user_id)
        if profile is None:
            raise business_error(UserError.USER_NOT_FOUND, f"user {user_id} not found")
        if profile.status == status.value:
            raise refused(f"the account is {status.value} already")
        if context.actor != ActorKind.system and actor_id not in self.operators:
            await self._check_tenant_admin(
                context.tenant_id, input.tenant_id, actor_id, user_id, tenants
            )
        return contracts.CheckAccountChangeOutput(
            status=profile.status, tenant_ids=[str(t) for t in tenants]
        )

    async def _check_tenant_admin(
        self,
        context_tenant: str | None,
        tenant_raw: str | None,
        actor_id: uuid.UUID,
        user_id: uuid.UUID,
        tenants: list[uuid.UUID],
    ) -> None:
        if actor_id == user_id:
            raise refused("nobody deactivates or reactivates their own account")
        if tenant_raw is None or context_tenant is None:
            raise business_error(UserError.PERMISSION_DENIED, "this needs a token for a tenant")
        tenant_id = _uuid(tenant_raw, "tenant id")
        if _uuid(context_tenant, "tenant id") != tenant_id:
            raise denied("the run acts in another tenant than the input names")
        if tenant_id not in tenants:
            raise business_error(UserError.USER_NOT_FOUND, f"user {user_id} not found")
        if set(tenants) != {tenant_id}:
            raise refused("the user belongs to other tenants too: an operator (de)activates them")
        async with transaction(self.database, tenant_id) as db:
            directory = DirectoryRepository(db, tenant_id)
            actor, target = await directory.entry(actor_id), await directory.entry(user_id)
        if actor is None or actor.status != "active":
            raise business_error(UserError.PERMISSION_DENIED, "you are not an active member")
        if target is not None and target.role == OWNER and actor.role != OWNER:
            raise business_error(UserError.PERMISSION_DENIED, "only an owner deactivates an owner")

    @contracts.SET_PROFILE_STATUS.implement
    async def set_profile_status(
        self, input: contracts.SetProfileStatusInput
    ) -> contracts.SetProfileStatusOutput:
        require_flow_step(input.idempotency_key, FLOW)
        user_id = _uuid(input.user_id, "user id")
        status = _status(input.status)
        async with transaction(self.database) as db:
            previous = await ProfileRepository(db).set_status(user_id, status.value)
        if previous is None:
            raise business_error(UserError.USER_NOT_FOUND, f"user {user_id} not found")
        return contracts.SetProfileStatusOutput(previous=previous, changed=previous != status)

    def all(self) -> list[Callable[..., Any]]:
        return [self.check_account_change, self.set_profile_status]
