"""``data_migration``'s ``profile_names`` copy on the real stack: members with profiles whose
copies (auth's credential, the membership, the directory entry) are put out of step directly in
the database are reported by a dry run (which changes nothing) and fixed by a repair through the
version-guarded writes of ``user_profile_sync``; a copy holding a NEWER version than the profile
is reported but never overwritten. With ``ADX_RECORD_HISTORIES=1`` the repair is the replay
history (``tests/histories/data_migration.profile_names.json``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.data_migration import start_data_migration
from services.common.resources import Resources
from storage.auth.models import Credential
from storage.auth.profile_copies import copy_display_name
from storage.db import transaction
from storage.tenants.models import Membership
from storage.tenants.profile_copies import copy_member_profile
from storage.tenants.repository import MembershipRepository
from storage.users.directory import DirectoryRepository
from storage.users.models import DirectoryEntry, Profile
from storage.users.repository import ProfileRepository, profile_version
from tests.auth.mail_flows import record_history
from tests.auth.users import AuthUser, create_user
from tests.workflow.graphql.runs_graphql import code_of, runs_gateway
from tests.workflow.reconciliation.members import Stack, provisioned, put_claims
from tests.workflow.reconciliation.test_data_migration import by_copy, reconcile
from tests.workflow.reconciliation.test_graphql import START
from tests.workflow.reconciliation.test_reconciliation_routes import api_on
from tests.workflow.runs.runs_api import RunsApi
from workflows.reconciliation.data_migration import DataMigrationInput, DataMigrationResult

COPY = "profile_names"


async def member_with_profile(
    stack: Stack, auth_runtime: AuthRuntime, tenant_id: uuid.UUID, name: str
) -> tuple[uuid.UUID, int]:
    """An account, its profile, a membership and a directory entry, every copy in step; answers
    the user id and the profile's version."""
    account = await create_user(auth_runtime)
    user_id, email = account.id, account.email
    async with transaction(stack.users.database) as db:
        await ProfileRepository(db).create(
            id_=user_id, email=email, display_name=name, idempotency_key=f"test:{user_id}"
        )
        row = await db.get(Profile, user_id)
        assert row is not None
        version = profile_version(row)
    async with transaction(stack.tenants.database, tenant_id) as db:
        await MembershipRepository(db, tenant_id).add_member(user_id, "member")
        await copy_member_profile(
            db, tenant_id, user_id, display_name=name, email=email, version=version
        )
    await put_claims(stack, tenant_id, user_id, "member")
    async with transaction(stack.auth.database) as db:
        await copy_display_name(db, user_id, name, version)
    async with transaction(stack.users.database, tenant_id) as db:
        await DirectoryRepository(db, tenant_id).upsert(
            user_id,
            role="member",
            status="active",
            joined_at=None,
            display_name=name,
            email=email,
            search_name=name,
        )
    return user_id, version


async def names(stack: Stack, tenant_id: uuid.UUID, user_id: uuid.UUID) -> tuple[Any, ...]:
    """(credential name and version, membership name and version, directory entry name)."""
    async with transaction(stack.auth.database) as db:
        auth = (
            await db.execute(
                select(Credential.display_name, Credential.profile_version).where(
                    Credential.id == user_id
                )
            )
        ).one()
    async with transaction(stack.tenants.database, tenant_id) as db:
        member = (
            await db.execute(
                select(Membership.display_name, Membership.profile_version).where(
                    Membership.tenant_id == tenant_id, Membership.user_id == user_id
                )
            )
        ).one()
    async with transaction(stack.users.database, tenant_id) as db:
        entry = await db.scalar(
            select(DirectoryEntry.display_name).where(
                DirectoryEntry.tenant_id == tenant_id, DirectoryEntry.user_id == user_id
            )
        )
    return tuple(auth), tuple(member), entry


async def test_stale_profile_names_are_reported_then_repaired_but_a_newer_copy_stays(
    temporal: Client,
    reconciliation_stack: Any,
    auth_runtime: AuthRuntime,
    user: AuthUser,
) -> None:
    async with reconciliation_stack() as stack:
        tenant_id = await provisioned(temporal, stack, user.id)
        kinds = ("auth", "tenant", "directory", "newer", "fine")
        members = {k: await member_with_profile(stack, auth_runtime, tenant_id, k) for k in kinds}
        clean = await reconcile(temporal, stack, tenant_id, copies=[COPY])
        assert by_copy(clean)[COPY].stale == 0 and clean.drift == 0, clean

        # The drift, straight into each copy, as a lost delivery leaves it: an older name with
        # an older version (the directory keeps no version).
        async with transaction(stack.auth.database) as db:
            await db.execute(
                update(Credential)
                .where(Credential.id == members["auth"][0])
                .values(display_name="Old name", profile_version=members["auth"][1] - 1)
            )
            newer_user, newer_version = members["newer"]
            await db.execute(
                update(Credential)
                .where(Credential.id == newer_user)
                .values(display_name="Newer name", profile_version=newer_version + 1000)
            )
        async with transaction(stack.tenants.database, tenant_id) as db:
            await db.execute(
                update(Membership)
                .where(
                    Membership.tenant_id == tenant_id, Membership.user_id == members["tenant"][0]
                )
                .values(display_name="Old name", profile_version=members["tenant"][1] - 1)
            )
        async with transaction(stack.users.database, tenant_id) as db:
            await db.execute(
                update(DirectoryEntry)
                .where(
                    DirectoryEntry.tenant_id == tenant_id,
                    DirectoryEntry.user_id == members["directory"][0],
                )
                .values(display_name="Old name")
            )
        before = {k: await names(stack, tenant_id, u) for k, (u, _) in members.items()}

        dry = by_copy(await reconcile(temporal, stack, tenant_id, copies=[COPY], batch_size=2))
        report = dry[COPY]
        # Five members with a profile (the owner has none), each checked in three holders.
        assert (report.checked, report.missing, report.extra, report.stale) == (15, 0, 0, 4)
        assert report.repaired == 0 and report.done
        drifting = {str(members[k][0]) for k in ("auth", "tenant", "directory", "newer")}
        assert set(report.sample) == drifting
        after_dry = {k: await names(stack, tenant_id, u) for k, (u, _) in members.items()}
        assert after_dry == before, "a dry run wrote"

        handle = await start_data_migration(
            temporal,
            DataMigrationInput(
                str(tenant_id), mode="repair", copies=[COPY], batch_size=2, requested_by="t"
            ),
            task_queue=stack.workflow,
        )
        repaired = by_copy(await handle.result())[COPY]
        await record_history(handle, "data_migration.profile_names")
        again = by_copy(await reconcile(temporal, stack, tenant_id, copies=[COPY]))[COPY]
        fixed = {k: await names(stack, tenant_id, u) for k, (u, _) in members.items()}

    assert (repaired.stale, repaired.repaired) == (4, 3)
    for kind in ("auth", "tenant", "directory", "fine"):
        version = members[kind][1]
        assert fixed[kind] == ((kind, version), (kind, version), kind), kind
    # The newer copy is left as it is (the version guard), and a later run still reports it.
    assert fixed["newer"][0] == ("Newer name", newer_version + 1000)
    assert fixed["newer"][1:] == ((("newer", newer_version)), "newer")
    assert (again.stale, again.sample) == (1, [str(newer_user)])


async def test_a_run_over_every_copy_includes_profile_names(
    temporal: Client, reconciliation_stack: Any, auth_runtime: AuthRuntime, user: AuthUser
) -> None:
    async with reconciliation_stack() as stack:
        tenant_id = await provisioned(temporal, stack, user.id)
        user_id, _ = await member_with_profile(stack, auth_runtime, tenant_id, "Somebody")
        async with transaction(stack.tenants.database, tenant_id) as db:
            await db.execute(
                update(Membership)
                .where(Membership.tenant_id == tenant_id, Membership.user_id == user_id)
                .values(email="old@example.com")
            )
        result = by_copy(await reconcile(temporal, stack, tenant_id))

    assert set(result) == {"claims", "directory", "quotas", COPY}
    assert (result[COPY].stale, result[COPY].sample) == (1, [str(user_id)])
    assert result["claims"].stale == result["directory"].stale == 0


async def test_graphql_starts_a_profile_names_run(
    temporal: Client,
    reconciliation_stack: Any,
    runs_api: RunsApi,
    gateway_resources: Resources,
    auth_resources: Resources,
    auth_runtime: AuthRuntime,
    user: AuthUser,
) -> None:
    """``startDataMigration`` accepts ``profile_names`` (the route's model checks the name), and
    the run's report names the drifting member only."""
    async with reconciliation_stack() as stack:
        api = api_on(runs_api, stack)
        tenant_id = await provisioned(temporal, stack, user.id)
        user_id, _ = await member_with_profile(stack, auth_runtime, tenant_id, "Somebody")
        await member_with_profile(stack, auth_runtime, tenant_id, "In step")
        async with transaction(stack.users.database, tenant_id) as db:
            await db.execute(
                update(DirectoryEntry)
                .where(DirectoryEntry.tenant_id == tenant_id, DirectoryEntry.user_id == user_id)
                .values(email="old@example.com")
            )
        async with runs_gateway(gateway_resources, auth_resources, api) as graphql:
            variables = {"input": {"tenantId": str(tenant_id), "copies": [COPY], "batchSize": 1}}
            started = (await graphql.data(api.operator_caller(), START, variables))[
                "startDataMigration"
            ]
            too_many = {"input": {"tenantId": str(tenant_id), "copies": [COPY] * 11}}
            refused = await graphql.ask(api.operator_caller(), START, too_many)
        result = await temporal.get_workflow_handle(
            started["id"], result_type=DataMigrationResult
        ).result()

    assert [(r.copy, r.checked, r.stale, r.sample) for r in result.reports] == [
        (COPY, 6, 1, [str(user_id)])
    ]
    assert code_of(refused) == "BAD_USER_INPUT" and refused["data"] is None
