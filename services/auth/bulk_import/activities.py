"""Auth's part of the batched bulk import: a batch's accounts found or created in one
transaction (one ``INSERT ... SELECT unnest ... ON CONFLICT DO NOTHING``, one lookup), with the
rules of ``auth.ensure_onboarding_account`` per row (``services/auth/onboarding_account.py``,
shared): the address normalised the same way, an existing account found (``created`` only when
this row's key made it), a new one without a password."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from temporalio.exceptions import ApplicationError

from services.auth.activity_base import user_uuid
from services.auth.onboarding_account import made_by_step, onboarding_address
from services.auth.principal.activities import MAX_PERMISSIONS
from services.auth.runtime import AuthRuntime
from services.common.security_context import require_flow_step
from storage.auth.audit import AuditRepository
from storage.auth.bulk_accounts import (
    accounts_by_email,
    create_missing_accounts,
    put_claims_many,
    remove_batch_accounts,
    remove_claims_many,
)
from storage.db import transaction
from workflows.auth import bulk_import_contracts as contracts
from workflows.auth.contracts import AuthError
from workflows.common.errors import business_error
from workflows.user.contracts import UserWorkflow

FLOWS = (UserWorkflow.BULK_USER_OPERATION,)
DUPLICATE = "the address appears in an earlier row of this import"


def row_key(batch_key: str, row_number: int) -> str:
    """The idempotency key row ``row_number``'s account is created under."""
    return f"{batch_key}:row:{row_number}"


def _normalise(rows: list[contracts.AccountRow]) -> tuple[dict[int, str], dict[int, str]]:
    """Each row's address normalised as the single path does, or why it is refused."""
    normalised: dict[int, str] = {}
    failed: dict[int, str] = {}
    for row in rows:
        try:
            normalised[row.row_number] = onboarding_address(row.email)
        except ApplicationError as error:
            failed[row.row_number] = error.message
    return normalised, failed


class BulkImportAccountActivities:
    def __init__(self, runtime: AuthRuntime) -> None:
        self.database = runtime.resources.database

    @contracts.ENSURE_ACCOUNTS.implement
    async def bulk_ensure_accounts(
        self, input: contracts.EnsureAccountsInput
    ) -> contracts.EnsureAccountsOutput:
        require_flow_step(input.idempotency_key, *FLOWS)
        if len(input.rows) > contracts.MAX_ACCOUNT_ROWS:
            raise ApplicationError(
                f"at most {contracts.MAX_ACCOUNT_ROWS} rows a batch", non_retryable=True
            )
        # email-validator per row is CPU work: off the event loop.
        normalised, failed = await asyncio.to_thread(_normalise, input.rows)
        wanted: dict[str, int] = {}  # normalised address -> the first row naming it
        for row in input.rows:
            email = normalised.get(row.row_number)
            if email is None:
                continue
            if email in wanted:
                failed[row.row_number] = DUPLICATE
            else:
                wanted[email] = row.row_number
        found: dict[str, tuple[uuid.UUID, str]] = {}
        if wanted:
            emails = list(wanted)
            async with transaction(self.database) as db:
                created = await create_missing_accounts(
                    db, [(e, row_key(input.idempotency_key, wanted[e])) for e in emails]
                )
                audit = AuditRepository(db)
                for user_id in created:
                    await audit.record("account.onboarded", user_id=user_id, source="bulk_import")
                found = await accounts_by_email(db, emails)
        outcomes = []
        for row in input.rows:
            number = row.row_number
            if number in failed:
                outcomes.append(contracts.AccountOutcome(number, error=failed[number]))
                continue
            email = normalised[number]
            if email not in found:  # taken and released meanwhile: tried again with the batch
                raise ApplicationError("an address of the batch changed owner meanwhile")
            user_id, key = found[email]
            mine = made_by_step(key, row_key(input.idempotency_key, number))
            outcomes.append(contracts.AccountOutcome(number, str(user_id), created=mine))
        return contracts.EnsureAccountsOutput(outcomes)

    @contracts.REMOVE_BATCH_ACCOUNTS.implement
    async def bulk_remove_accounts(
        self, input: contracts.RemoveBatchAccountsInput
    ) -> contracts.RemoveBatchAccountsOutput:
        """The compensation of a failed batch: only the accounts it created (under its row
        keys), and only while nobody has used them; accounts found, not made, stay."""
        require_flow_step(input.created_key, *FLOWS)
        if len(input.user_ids) > contracts.MAX_ACCOUNT_ROWS:
            raise ApplicationError(
                f"at most {contracts.MAX_ACCOUNT_ROWS} rows a batch", non_retryable=True
            )
        ids = [user_uuid(raw) for raw in input.user_ids]
        async with transaction(self.database) as db:
            removed = await remove_batch_accounts(db, ids, input.created_key)
            audit = AuditRepository(db)
            for user_id in removed:
                await audit.record("account.onboarding_undone", user_id=user_id)
        return contracts.RemoveBatchAccountsOutput([str(i) for i in removed])

    @contracts.PUT_BATCH_CLAIMS.implement
    async def bulk_put_claims(
        self, input: contracts.PutBatchClaimsInput
    ) -> contracts.PutBatchClaimsOutput:
        """``auth.sync_principal_claims`` for the members a batch added, in one upsert (the
        tenant step checked the actor before it added them)."""
        require_flow_step(input.idempotency_key, *FLOWS)
        if len(input.members) > contracts.MAX_ACCOUNT_ROWS:
            raise ApplicationError(
                f"at most {contracts.MAX_ACCOUNT_ROWS} rows a batch", non_retryable=True
            )
        tenant_id = _tenant_uuid(input.tenant_id)
        members = []
        for member in input.members:
            permissions = sorted(set(member.permissions))
            if not 1 <= len(member.role) <= 50 or len(permissions) > MAX_PERMISSIONS:
                raise business_error(AuthError.INVALID_INPUT, "a role has 1-50 characters")
            if any(not p or len(p) > 40 for p in permissions):
                raise business_error(AuthError.INVALID_INPUT, "permissions have 1-40 characters")
            members.append((user_uuid(member.user_id), member.role, permissions))
        async with transaction(self.database) as db:
            await put_claims_many(db, tenant_id, members)
            await AuditRepository(db).record(
                "claims.synced", tenant_id=str(tenant_id), source="bulk_import", count=len(members)
            )
        return contracts.PutBatchClaimsOutput(synced=len(members))

    @contracts.REMOVE_BATCH_CLAIMS.implement
    async def bulk_remove_claims(
        self, input: contracts.RemoveBatchClaimsInput
    ) -> contracts.RemoveBatchClaimsOutput:
        """The compensation of ``auth.bulk_put_claims``: the claims of the batch's members whose
        memberships the same compensation removes (idempotent: removing twice removes nothing
        more)."""
        require_flow_step(input.idempotency_key, *FLOWS)
        if len(input.user_ids) > contracts.MAX_ACCOUNT_ROWS:
            raise ApplicationError(
                f"at most {contracts.MAX_ACCOUNT_ROWS} rows a batch", non_retryable=True
            )
        tenant_id = _tenant_uuid(input.tenant_id)
        ids = [user_uuid(raw) for raw in input.user_ids]
        async with transaction(self.database) as db:
            removed = await remove_claims_many(db, tenant_id, ids)
            if removed:
                await AuditRepository(db).record(
                    "claims.synced",
                    tenant_id=str(tenant_id),
                    source="bulk_import_undone",
                    count=removed,
                )
        return contracts.RemoveBatchClaimsOutput(removed=removed)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.bulk_ensure_accounts,
            self.bulk_remove_accounts,
            self.bulk_put_claims,
            self.bulk_remove_claims,
        ]


def _tenant_uuid(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise business_error(AuthError.INVALID_INPUT, "invalid tenant id") from None
