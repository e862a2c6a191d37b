"""The auth steps of ``user_onboarding`` (task queue ``<prefix>-auth``): the account of an address
found or created without a password, and the compensation that removes an account this run
created. Only ``user_onboarding`` (or the platform) runs them: its first step
(``tenant.check_onboarding``) checked the actor against the tenant's rows before any of these."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from services.auth.activity_base import user_uuid
from services.auth.actor_checks import require_created_by_this_run
from services.auth.onboarding_account import made_by_step, onboarding_address
from services.auth.runtime import AuthRuntime
from services.common.security_context import denied, require_flow_step
from storage.auth.audit import AuditRepository
from storage.auth.repository import CredentialRepository
from storage.db import transaction
from workflows.auth import onboarding_contracts as contracts
from workflows.auth.contracts import AuthError
from workflows.common.errors import business_error
from workflows.onboarding.contracts import OnboardingWorkflow

FLOWS = (OnboardingWorkflow.USER_ONBOARDING,)


class OnboardingAccountActivities:
    def __init__(self, runtime: AuthRuntime) -> None:
        self.runtime = runtime
        self.database = runtime.resources.database

    @contracts.ENSURE_ACCOUNT.implement
    async def ensure_onboarding_account(
        self, input: contracts.EnsureAccountInput
    ) -> contracts.EnsureAccountOutput:
        """Idempotent on the key: a retry finds the account it created (and says so)."""
        require_flow_step(input.idempotency_key, *FLOWS)
        email = onboarding_address(input.email)
        async with transaction(self.database) as db:
            credentials = CredentialRepository(db)
            existing = await credentials.get_by_email(email)
            if existing is not None:
                return contracts.EnsureAccountOutput(
                    user_id=str(existing.id),
                    created=made_by_step(existing.idempotency_key, input.idempotency_key),
                )
            if input.must_exist:
                raise business_error(AuthError.UNKNOWN_ACCOUNT, "no account has this address")
            user_id = uuid.uuid4()
            # No password: the person sets one through the link the onboarding mails.
            outcome = await credentials.create(
                id_=user_id, email=email, password_hash=None, idempotency_key=input.idempotency_key
            )
            if outcome.conflict:
                raise business_error(AuthError.EMAIL_TAKEN, "the address was taken meanwhile")
            await AuditRepository(db).record("account.onboarded", user_id=user_id)
        return contracts.EnsureAccountOutput(user_id=str(user_id), created=True)

    @contracts.REMOVE_ONBOARDED_ACCOUNT.implement
    async def remove_onboarded_account(
        self, input: contracts.RemoveOnboardedAccountInput
    ) -> contracts.RemoveOnboardedAccountOutput:
        """The compensation: only the account created under ``created_key`` by this run, and
        only while it has no password (nobody has used it yet)."""
        context = require_flow_step(input.created_key, *FLOWS)
        await require_created_by_this_run(self.database, context, input.user_id)
        user_id = user_uuid(input.user_id)
        async with transaction(self.database) as db:
            credentials = CredentialRepository(db)
            if await credentials.idempotency_key(user_id) not in (None, input.created_key):
                raise denied("only the account this step created is removed")
            credential = await credentials.get(user_id)
            if credential is None:
                return contracts.RemoveOnboardedAccountOutput(removed=False)
            if credential.password_hash is not None:
                # Someone set a password meanwhile: the account is theirs now, kept.
                return contracts.RemoveOnboardedAccountOutput(removed=False)
            removed = await credentials.delete_unverified(user_id)
            if removed:
                await AuditRepository(db).record("account.onboarding_undone", user_id=user_id)
        return contracts.RemoveOnboardedAccountOutput(removed=removed)

    def all(self) -> list[Callable[..., Any]]:
        return [self.ensure_onboarding_account, self.remove_onboarded_account]
