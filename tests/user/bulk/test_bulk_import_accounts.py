"""Auth's part of the batched import (``auth.bulk_ensure_accounts``): a batch's accounts found or
created in one transaction, per-row outcomes, nothing created twice when the batch runs again,
and only the bulk operation's flow may call it."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.auth.activity_base import normalize_email
from services.auth.bulk_import.activities import DUPLICATE, BulkImportAccountActivities
from services.auth.runtime import AuthRuntime
from services.common.security_context import SecurityContext, acting_as
from storage.auth.models import Credential, PrincipalClaims
from storage.auth.repository import CredentialRepository
from storage.db import transaction
from workflows.auth.bulk_import_contracts import (
    MAX_ACCOUNT_ROWS,
    AccountRow,
    EnsureAccountsInput,
    MemberClaims,
    PutBatchClaimsInput,
    RemoveBatchAccountsInput,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _accounts(runtime: AuthRuntime, emails: list[str]) -> dict[str, uuid.UUID]:
    async with transaction(runtime.resources.database) as db:
        rows = await db.execute(
            select(Credential.email, Credential.id).where(Credential.email.in_(emails))
        )
        return {email: id_ for email, id_ in rows}


async def test_batch_finds_creates_and_reports_each_row(auth_runtime: AuthRuntime) -> None:
    tag = uuid.uuid4().hex[:10]
    existing = f"existing-{tag}@example.com"
    async with transaction(auth_runtime.resources.database) as db:
        await CredentialRepository(db).create(
            id_=uuid.uuid4(), email=existing, password_hash=None, idempotency_key=f"pre-{tag}"
        )
    new = [f"new{i}-{tag}@example.com" for i in range(3)]
    rows = [
        AccountRow(1, new[0]),
        AccountRow(2, f"NEW1-{tag}@Example.COM"),  # normalised like the single path
        AccountRow(3, existing.upper()),
        AccountRow(4, "not an address"),
        AccountRow(5, new[0]),  # the same address again
        AccountRow(6, new[2]),
    ]
    activities = BulkImportAccountActivities(auth_runtime)
    batch = EnsureAccountsInput(rows, f"bulk-user-operation-{tag}:run:accounts:0")
    env = ActivityEnvironment()
    with acting_as(SecurityContext.system("test")):
        first = await env.run(activities.bulk_ensure_accounts, batch)
        # The batch again (a worker crash after the commit): the same answers, nothing new.
        again = await env.run(activities.bulk_ensure_accounts, batch)
    assert again == first
    by_row = {o.row_number: o for o in first.outcomes}
    assert [o.row_number for o in first.outcomes] == [1, 2, 3, 4, 5, 6]
    accounts = await _accounts(auth_runtime, [*new, existing])
    assert set(accounts) == {new[0], new[1], new[2], existing}
    assert (by_row[1].user_id, by_row[1].created) == (str(accounts[new[0]]), True)
    assert (by_row[2].user_id, by_row[2].created) == (str(accounts[new[1]]), True)
    assert (by_row[3].user_id, by_row[3].created) == (str(accounts[existing]), False)
    assert by_row[4].user_id is None and by_row[4].error
    assert (by_row[5].user_id, by_row[5].error) == (None, DUPLICATE)
    assert (by_row[6].user_id, by_row[6].created) == (str(accounts[new[2]]), True)
    async with transaction(auth_runtime.resources.database) as db:
        count = await db.scalar(
            select(func.count()).select_from(Credential).where(Credential.email.in_(new))
        )
        created = await CredentialRepository(db).get_by_email(normalize_email(new[1]))
    assert count == 3
    assert created is not None and created.password_hash is None


async def test_batch_refused_outside_the_bulk_flow(auth_runtime: AuthRuntime) -> None:
    tag = uuid.uuid4().hex[:10]
    email = f"attacker-{tag}@example.com"
    activities = BulkImportAccountActivities(auth_runtime)
    batch = EnsureAccountsInput([AccountRow(1, email)], f"k-{tag}")
    env = ActivityEnvironment()
    # A user of another tenant (no flow, no run-scoped key): refused, nothing created.
    with acting_as(SecurityContext.for_user(str(uuid.uuid4()), tenant_id=str(uuid.uuid4()))):
        with pytest.raises(ApplicationError) as refused:
            await env.run(activities.bulk_ensure_accounts, batch)
    assert refused.value.type == "SecurityContextDenied"
    assert await _accounts(auth_runtime, [email]) == {}


async def test_batch_too_large_refused(auth_runtime: AuthRuntime) -> None:
    tag = uuid.uuid4().hex[:10]
    rows = [AccountRow(i, f"r{i}-{tag}@example.com") for i in range(MAX_ACCOUNT_ROWS + 1)]
    env = ActivityEnvironment()
    with acting_as(SecurityContext.system("test")):
        with pytest.raises(ApplicationError) as refused:
            await env.run(
                BulkImportAccountActivities(auth_runtime).bulk_ensure_accounts,
                EnsureAccountsInput(rows, f"k-{tag}"),
            )
    assert refused.value.non_retryable
    assert await _accounts(auth_runtime, [rows[0].email]) == {}


async def test_compensation_removes_only_the_batchs_unused_accounts(
    auth_runtime: AuthRuntime,
) -> None:
    tag = uuid.uuid4().hex[:10]
    existing = f"before-{tag}@example.com"
    async with transaction(auth_runtime.resources.database) as db:
        await CredentialRepository(db).create(
            id_=uuid.uuid4(), email=existing, password_hash=None, idempotency_key=f"pre-{tag}"
        )
    fresh, used = f"fresh-{tag}@example.com", f"used-{tag}@example.com"
    activities = BulkImportAccountActivities(auth_runtime)
    key = f"bulk-user-operation-{tag}:run:accounts:0"
    rows = [AccountRow(1, existing), AccountRow(2, fresh), AccountRow(3, used)]
    env = ActivityEnvironment()
    with acting_as(SecurityContext.system("test")):
        out = await env.run(activities.bulk_ensure_accounts, EnsureAccountsInput(rows, key))
        ids = {o.row_number: o.user_id or "" for o in out.outcomes}
        async with transaction(auth_runtime.resources.database) as db:
            await CredentialRepository(db).set_password_hash(uuid.UUID(ids[3]), "x")
        everyone = list(ids.values())  # the found account too: it must stay
        # Another batch's key removes nothing of this batch.
        other = await env.run(
            activities.bulk_remove_accounts,
            RemoveBatchAccountsInput(everyone, f"bulk-user-operation-{tag}:run:accounts:1"),
        )
        removed = await env.run(
            activities.bulk_remove_accounts, RemoveBatchAccountsInput(everyone, key)
        )
    assert other.removed == []
    assert removed.removed == [ids[2]]
    assert set(await _accounts(auth_runtime, [existing, fresh, used])) == {existing, used}


async def test_claims_of_a_batchs_members_in_one_upsert(auth_runtime: AuthRuntime) -> None:
    tenant_id, ann, bob = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    batch = PutBatchClaimsInput(
        str(tenant_id),
        [
            MemberClaims(str(ann), "admin", ["members.manage", "members.read"]),
            MemberClaims(str(bob), "member", []),
        ],
        "k",
    )
    env = ActivityEnvironment()
    activities = BulkImportAccountActivities(auth_runtime)
    with acting_as(SecurityContext.system("test")):
        for _ in range(2):  # a retried step writes the same claims
            assert (await env.run(activities.bulk_put_claims, batch)).synced == 2
        with pytest.raises(ApplicationError) as bad:
            await env.run(
                activities.bulk_put_claims,
                PutBatchClaimsInput(str(tenant_id), [MemberClaims(str(ann), "r" * 51)], "k"),
            )
    assert bad.value.non_retryable
    async with transaction(auth_runtime.resources.database) as db:
        rows = await db.execute(
            select(
                PrincipalClaims.user_id, PrincipalClaims.roles, PrincipalClaims.permissions
            ).where(PrincipalClaims.tenant_id == tenant_id)
        )
        got = {user_id: (roles, perms) for user_id, roles, perms in rows}
    assert got == {
        ann: (["admin"], ["members.manage", "members.read"]),
        bob: (["member"], []),
    }
    # Only the bulk operation's runs: a user's context is refused.
    with acting_as(SecurityContext.for_user(str(ann), tenant_id=str(tenant_id))):
        with pytest.raises(ApplicationError) as refused:
            await env.run(activities.bulk_put_claims, batch)
    assert refused.value.type == "SecurityContextDenied"
