"""``auth.account_emails``: the addresses of accounts, for the tenant flows (mails to members,
the invited-address check of an invitation). Read-only; only the platform and the tenant flows
may ask (``require_flow``), at most ``MAX_ACCOUNTS`` at a time."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from services.auth.runtime import AuthRuntime
from services.common.security_context import require_context, require_flow
from storage.auth.account_emails import account_emails
from storage.db import transaction
from workflows.auth import account_contracts
from workflows.auth.contracts import AuthError
from workflows.common.errors import business_error
from workflows.tenant.contracts import TenantWorkflow

READERS = (
    TenantWorkflow.TENANT_PROVISIONING,
    TenantWorkflow.MEMBERSHIP_CHANGE,
    TenantWorkflow.TENANT_SUSPENSION,
)


class AccountEmailActivities:
    def __init__(self, runtime: AuthRuntime) -> None:
        self.runtime = runtime

    @account_contracts.ACCOUNT_EMAILS.implement
    async def account_emails(
        self, input: account_contracts.AccountEmailsInput
    ) -> account_contracts.AccountEmailsOutput:
        require_flow(require_context(), *READERS)
        if len(input.user_ids) > account_contracts.MAX_ACCOUNTS:
            raise business_error(AuthError.INVALID_INPUT, "too many accounts at once")
        try:
            ids = sorted({uuid.UUID(raw) for raw in input.user_ids})
        except ValueError as error:
            raise business_error(AuthError.INVALID_INPUT, "invalid user id") from error
        async with transaction(self.runtime.resources.database) as db:
            rows = await account_emails(db, ids)
        return account_contracts.AccountEmailsOutput(
            accounts=[
                account_contracts.AccountEmail(str(id_), email.lower(), verified)
                for id_, email, verified in rows
            ]
        )

    def all(self) -> list[Callable[..., Any]]:
        return [self.account_emails]
