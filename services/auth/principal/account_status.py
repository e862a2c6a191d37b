"""``auth.set_account_status``: the auth step of ``user_deactivation`` (a user service
workflow). Deactivating sets ``credentials.disabled_at`` (password and SSO logins are refused
with the answer of a wrong password, ``services/auth/login.py``) and revokes every session (a
refresh is refused after); reactivating clears it. Only that flow (or the platform) may run it,
under its run's key: the user service's first step checked the actor. Idempotent by nature: a
status set, and revoking only sessions still open."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from services.auth.runtime import AuthRuntime
from services.common.security_context import require_flow_step
from storage.auth.audit import AuditRepository
from storage.auth.repository import CredentialRepository
from storage.db import transaction
from workflows.auth import account_status_contracts as contracts
from workflows.auth.contracts import AuthError
from workflows.common.errors import business_error
from workflows.user.contracts import UserWorkflow

REVOKED_REASON = "account_deactivated"


class AccountStatusActivities:
    def __init__(self, runtime: AuthRuntime) -> None:
        self.runtime = runtime

    @contracts.SET_ACCOUNT_STATUS.implement
    async def set_account_status(
        self, input: contracts.SetAccountStatusInput
    ) -> contracts.SetAccountStatusOutput:
        require_flow_step(input.idempotency_key, UserWorkflow.USER_DEACTIVATION)
        try:
            user_id = uuid.UUID(input.user_id)
        except ValueError as error:
            raise business_error(AuthError.INVALID_INPUT, "invalid user id") from error
        async with transaction(self.runtime.resources.database) as db:
            changed = await CredentialRepository(db).set_disabled(user_id, input.disabled)
            if changed is None:
                raise business_error(AuthError.INVALID_INPUT, "no such account")
            if changed:
                await AuditRepository(db).record(
                    "account.disabled" if input.disabled else "account.enabled", user_id=user_id
                )
        revoked = 0
        if input.disabled:
            # After the commit: a login racing this step either failed already or opened a
            # session that is revoked here (a retry revokes what is still open).
            revoked = await self.runtime.sessions.revoke_all(user_id, REVOKED_REASON)
        return contracts.SetAccountStatusOutput(changed=changed, sessions_revoked=revoked)

    def all(self) -> list[Callable[..., Any]]:
        return [self.set_account_status]
