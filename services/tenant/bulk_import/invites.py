"""Bulk ``invite``'s tenant step (``tenant.bulk_invite``): one row's invitation, by the same rule
and mail as ``POST /tenants/{id}/invitations`` (``invite_address``) for the run's actor, who must
hold ``members.invite`` in the run's tenant. The outcome is recorded under the step's key in
the invitation's transaction: a retry after the commit answers it, writing and mailing nothing
again; a mail that cannot be sent rolls the invitation back and the step is retried."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from temporalio.exceptions import ApplicationError

from services.common.errors import DomainError, ServiceUnavailableError
from services.common.mailer import Mailer, mailer_from_settings
from services.common.resources import Resources
from services.common.tokens import Principal
from services.tenant.access import require_permission
from services.tenant.errors import TenantProblem
from services.tenant.invitations.inviting import invite_address
from services.tenant.provisioning.steps import parse_id, require_actor, step_context
from storage.db import transaction
from storage.tenants.repository import MembershipChangeOutcomeRepository
from workflows.auth.contracts import InvalidEmailError, normalize_email
from workflows.common.errors import business_error
from workflows.tenant import bulk_import_contracts as contracts
from workflows.tenant.contracts import TenantError
from workflows.tenant.permissions import Permission
from workflows.user.contracts import UserWorkflow

FLOWS = (UserWorkflow.BULK_USER_OPERATION,)


class BulkInviteActivities:
    def __init__(self, resources: Resources, mailer: Mailer | None = None) -> None:
        self.database = resources.database
        self.settings = resources.settings
        self.mailer = mailer or mailer_from_settings(resources.settings)

    @contracts.INVITE_ROW.implement
    async def bulk_invite(self, input: contracts.InviteRowInput) -> contracts.InviteRowOutput:
        context = step_context(input.idempotency_key, *FLOWS)
        actor_id = require_actor(context, input.actor_id)
        tenant_id = parse_id(input.tenant_id, "tenant id")
        try:
            email = normalize_email(input.email)
        except InvalidEmailError as error:
            raise business_error(TenantError.INVALID_INPUT, str(error)) from error
        # The actor as the route's caller would be: a member of the run's tenant, by id.
        principal = Principal(
            user_id=str(actor_id),
            session_id="",
            tenant_id=str(tenant_id),
            roles=(),
            auth_methods=(),
        )
        try:
            async with transaction(self.database, tenant_id) as db:
                outcomes = MembershipChangeOutcomeRepository(db, tenant_id)
                recorded = await outcomes.of_key(input.idempotency_key)
                if recorded is not None:  # an earlier attempt's, committed
                    return contracts.InviteRowOutput(**recorded)
                access = await require_permission(
                    db, principal, tenant_id, Permission.MEMBERS_INVITE
                )
                row, created = await invite_address(
                    db, access, email, input.role, self.settings, self.mailer
                )
                output = contracts.InviteRowOutput(str(row.id), created)
                await outcomes.record(input.idempotency_key, dataclasses.asdict(output))
        except ServiceUnavailableError as error:  # the mail: nothing kept, tried again
            raise ApplicationError(error.detail) from None
        except TenantProblem as error:
            raise business_error(error.error, error.detail) from None
        except DomainError as error:  # a concurrent invite of the address won: a conflict
            raise business_error(TenantError.INVALID_INPUT, error.detail) from None
        return output

    def all(self) -> list[Callable[..., Any]]:
        return [self.bulk_invite]
