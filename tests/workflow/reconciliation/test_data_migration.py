"""``data_migration`` on the real stack: drift of each kind put directly into the copies is
reported exactly by a dry run (which changes nothing), fixed by a repair, and a second dry run
reports none. With ``ADX_RECORD_HISTORIES=1`` the repair is the replay history
(``tests/histories/data_migration.json``)."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.client import Client

from services.common.data_migration import start_data_migration
from tests.auth.mail_flows import record_history
from tests.auth.users import AuthUser
from tests.workflow.reconciliation.members import (
    Stack,
    add_member,
    copies,
    permissions,
    provisioned,
    put_claims,
    put_entry,
    remove_entry,
    remove_membership,
)
from workflows.reconciliation.data_migration import (
    RECONCILIATION_QUERY,
    CopyReport,
    DataMigrationInput,
    DataMigrationResult,
)


async def reconcile(
    temporal: Client, stack: Stack, tenant_id: uuid.UUID, **fields: Any
) -> DataMigrationResult:
    handle = await start_data_migration(
        temporal,
        DataMigrationInput(tenant_id=str(tenant_id), requested_by="test", **fields),
        task_queue=stack.workflow,
    )
    return await handle.result()


def by_copy(result: DataMigrationResult) -> dict[str, CopyReport]:
    return {r.copy: r for r in result.reports}


async def drifted(stack: Stack, tenant_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """Five members, then one drift of each kind:
    - ``wrong_role``: auth's claims say admin, the membership says member;
    - ``no_entry``: the directory lacks the member;
    - ``removed``: the membership is gone, the claim and entry stayed;
    - ``stale_entry``: the directory says admin;
    - ``fine``: all in step."""
    names = ("wrong_role", "no_entry", "removed", "stale_entry", "fine")
    members = {name: await add_member(stack, tenant_id) for name in names}
    await put_claims(stack, tenant_id, members["wrong_role"], "admin")
    await remove_entry(stack, tenant_id, members["no_entry"])
    await remove_membership(stack, tenant_id, members["removed"])
    await put_entry(stack, tenant_id, members["stale_entry"], "admin")
    return members


async def test_dry_run_reports_each_drift_and_changes_nothing(
    temporal: Client, reconciliation_stack: Any, user: AuthUser
) -> None:
    async with reconciliation_stack() as stack:
        tenant_id = await provisioned(temporal, stack, user.id)
        members = await drifted(stack, tenant_id)
        before = await copies(stack, tenant_id)

        # batch size 2 over 5 memberships (owner + 4): the key ranges must join without a gap.
        result = await reconcile(temporal, stack, tenant_id, batch_size=2)

        reports = by_copy(result)
        claims, directory = reports["claims"], reports["directory"]
        assert (claims.missing, claims.extra, claims.stale, claims.repaired) == (0, 1, 1, 0)
        assert sorted(claims.sample) == sorted(
            [str(members["removed"]), str(members["wrong_role"])]
        )
        assert (directory.missing, directory.extra, directory.stale) == (1, 1, 1)
        assert sorted(directory.sample) == sorted(
            str(members[n]) for n in ("no_entry", "removed", "stale_entry")
        )
        assert claims.checked == directory.checked == 6  # owner + 4 members + the removed one
        assert claims.total == directory.total == 5
        assert await copies(stack, tenant_id) == before, "a dry run changed a copy"


async def test_repair_fixes_the_drift_and_a_second_dry_run_finds_none(
    temporal: Client, reconciliation_stack: Any, user: AuthUser
) -> None:
    async with reconciliation_stack() as stack:
        tenant_id = await provisioned(temporal, stack, user.id)
        members = await drifted(stack, tenant_id)

        handle = await start_data_migration(
            temporal,
            DataMigrationInput(str(tenant_id), mode="repair", batch_size=3, requested_by="test"),
            task_queue=stack.workflow,
        )
        repaired = await handle.result()
        await record_history(handle, "data_migration")
        again = await reconcile(temporal, stack, tenant_id)

        assert (
            {r.copy: r.repaired for r in repaired.reports}
            == {
                "claims": 2,
                "directory": 3,
                "quotas": 0,
                "profile_names": 0,  # the members have no profiles (tests/workflow/reconciliation/test_profile_names.py)
            }
        )
        assert again.drift == 0, again
        claims, entries = await copies(stack, tenant_id)
        assert claims[members["wrong_role"]] == (["member"], permissions("member"))
        assert members["removed"] not in claims and members["removed"] not in entries
        assert entries[members["no_entry"]] == ("member", "active")
        assert entries[members["stale_entry"]] == ("member", "active")


async def test_one_copy_only_and_progress_is_readable(
    temporal: Client, reconciliation_stack: Any, user: AuthUser
) -> None:
    async with reconciliation_stack() as stack:
        tenant_id = await provisioned(temporal, stack, user.id)
        await drifted(stack, tenant_id)

        handle = await start_data_migration(
            temporal,
            DataMigrationInput(
                tenant_id=str(tenant_id), copies=["directory"], batch_size=1, batches_per_run=2
            ),
            task_queue=stack.workflow,
        )
        result = await handle.result()

        # continued as new every 2 batches (5 batches + the empty end), counters carried over
        assert [r.copy for r in result.reports] == ["directory"]
        assert (result.reports[0].missing, result.reports[0].extra, result.reports[0].stale) == (
            1,
            1,
            1,
        )
        progress = await handle.query(RECONCILIATION_QUERY, result_type=list[CopyReport])
        assert progress[0].done and progress[0].checked == 6
