"""A crash mid-run: the directory compare's first attempt at the second batch dies (as a killed
worker's would); the run completes with the right report and reads no committed batch again."""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.client import Client

from services.tenant.reconciliation.activities import MemberTruthActivities
from services.user.reconciliation.activities import DirectoryReconciliationActivities
from tests.auth.users import AuthUser
from tests.workflow.reconciliation.members import add_member, provisioned, remove_entry
from tests.workflow.reconciliation.test_data_migration import reconcile
from workflows.reconciliation.contracts import (
    COMPARE_DIRECTORY,
    READ_MEMBERS,
    CompareInput,
    CompareOutput,
    ReadMembersInput,
    ReadMembersOutput,
)


async def test_a_crashed_attempt_resumes_at_its_batch(
    temporal: Client,
    reconciliation_stack: Any,
    tenant_resources: Any,
    user_resources: Any,
    user: AuthUser,
) -> None:
    owner = MemberTruthActivities(tenant_resources)
    directory = DirectoryReconciliationActivities(user_resources)
    reads: list[str] = []
    compares: list[tuple[str, int]] = []

    @READ_MEMBERS.implement
    async def read(input: ReadMembersInput) -> ReadMembersOutput:
        reads.append(input.after)
        return await owner.reconcile_read_members(input)

    @COMPARE_DIRECTORY.implement
    async def compare(input: CompareInput) -> CompareOutput:
        attempt = activity.info().attempt
        compares.append((input.after, attempt))
        if input.after and attempt == 1 and len(compares) == 2:
            raise RuntimeError("worker killed mid-batch")
        return await directory.reconcile_directory(input)

    replace = {READ_MEMBERS.name: read, COMPARE_DIRECTORY.name: compare}
    async with reconciliation_stack(replace=replace) as stack:
        tenant_id = await provisioned(temporal, stack, user.id)
        members = [await add_member(stack, tenant_id) for _ in range(3)]
        await remove_entry(stack, tenant_id, members[0])

        result = await reconcile(temporal, stack, tenant_id, copies=["directory"], batch_size=2)

    assert [(r.missing, r.extra, r.stale) for r in result.reports] == [(1, 0, 0)]
    # owner + 3 members = 5 memberships: 3 batches of 2, each read once
    assert len(reads) == len(set(reads)) == 3, f"a committed batch was read again: {reads}"
    assert [a for _, a in compares] == [1, 1, 2, 1], compares
