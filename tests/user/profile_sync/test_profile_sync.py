"""``user_profile_sync`` on the real dev server: a profile change made through the user service's
routes reaches every copy (a new token's ``name``, the tenant service's member lists, the
directory in every tenant), the later of two changes wins whatever order they arrive in, a
repeated delivery changes nothing, a failing copy retries without holding newer changes back,
and an admin of one tenant cannot change (or sync) a member of another."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from services.auth.profile_copies.activities import ProfileClaimsActivities
from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.user.profile_sync.changes import announce, change_of
from storage.db import transaction
from storage.users.repository import ProfileRepository, profile_version
from tests.user.profile_sync.sync_flows import (
    auth_copy,
    converged,
    directory_names,
    listed_member,
    member_of_two_tenants,
    patch_profile,
    sync_run,
    token_name,
)
from workflows.accounts.profile_sync import PROFILE_CHANGED_SIGNAL, UserProfileSyncWorkflow
from workflows.auth.profile_copies_contracts import SYNC_PROFILE_CLAIMS
from workflows.user.profile_sync_contracts import ProfileCopyInput, ProfileCopyOutput

pytestmark = pytest.mark.timeout(180)


async def test_an_admin_change_reaches_every_copy_in_every_tenant(
    temporal: Client,
    sync_stack: Any,
    auth_runtime: AuthRuntime,
    auth_client: httpx.AsyncClient,
    auth_resources: Resources,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    people = await member_of_two_tenants(auth_runtime, tenant_resources, user_resources)
    member, tenants = people.member, [people.team.tenant_id, people.other_tenant]
    async with sync_stack() as stack:
        # Tenant A's owner renames Max: their transaction reaches only tenant A's rows.
        changed = await patch_profile(
            stack.user_api,
            people.owner.id,
            people.team.tenant_id,
            member.id,
            {"display_name": "Maxine Ng", "given_name": "Maxine"},
            role="owner",
        )
        assert changed.status_code == 200, changed.text
        async with transaction(user_resources.database) as db:
            row = await ProfileRepository(db).get(member.id)
        assert row is not None
        state = await converged(temporal, member.id, profile_version(row))

        assert state.failed == {}
        assert await token_name(auth_client, member, people.other_tenant) == "Maxine Ng"
        assert await auth_copy(auth_resources, member.id) == ("Maxine Ng", profile_version(row))
        for owner, tenant_id in ((people.owner, tenants[0]), (people.other_owner, tenants[1])):
            listed = await listed_member(stack.tenant_api, owner, tenant_id, member.id)
            assert (listed["display_name"], listed["email"]) == ("Maxine Ng", member.email)
        assert await directory_names(user_resources, tenants, member.id) == ["Maxine Ng"] * 2
        progress = await sync_run(temporal, member.id).query(UserProfileSyncWorkflow.progress)
        assert (progress.step, progress.total, progress.state) == (4, 4, "waiting")

        # A change of a field nobody copies starts nothing new (the run saw one change).
        quiet = await patch_profile(
            stack.user_api, member.id, people.team.tenant_id, None, {"title": "CTO"}
        )
        assert quiet.status_code == 200
        state = await sync_run(temporal, member.id).query(UserProfileSyncWorkflow.sync_state)
        assert state.changes == 1


async def _write_profile(users: Resources, user_id: uuid.UUID, name: str) -> Any:
    """A committed profile change that nobody announced yet (the test delivers it itself)."""
    async with transaction(users.database) as db:
        row = await ProfileRepository(db).update(user_id, {"display_name": name})
    assert row is not None
    return change_of(row)


async def test_the_later_change_wins_even_when_the_older_arrives_last(
    temporal: Client,
    sync_stack: Any,
    auth_runtime: AuthRuntime,
    auth_client: httpx.AsyncClient,
    auth_resources: Resources,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    people = await member_of_two_tenants(auth_runtime, tenant_resources, user_resources)
    member, tenants = people.member, [people.team.tenant_id, people.other_tenant]
    async with sync_stack() as stack:
        older = await _write_profile(user_resources, member.id, "First Name")
        newer = await _write_profile(user_resources, member.id, "Second Name")
        assert newer.version > older.version

        await announce(stack.users, newer)
        await announce(stack.users, older)  # late, on purpose
        await announce(stack.users, newer)  # and a repeated delivery
        state = await converged(temporal, member.id, newer.version)
        await asyncio.sleep(1.0)  # room for a wrong late write to land

        state = await sync_run(temporal, member.id).query(UserProfileSyncWorkflow.sync_state)
        assert state.latest_version == newer.version and state.changes == 1
        assert await token_name(auth_client, member, tenants[0]) == "Second Name"
        for owner, tenant_id in ((people.owner, tenants[0]), (people.other_owner, tenants[1])):
            listed = await listed_member(stack.tenant_api, owner, tenant_id, member.id)
            assert listed["display_name"] == "Second Name"
        assert await directory_names(user_resources, tenants, member.id) == ["Second Name"] * 2

        # Two quick changes through the route, the other way round: the later one everywhere.
        for name in ("Third Name", "Fourth Name"):
            response = await patch_profile(
                stack.user_api, member.id, tenants[1], None, {"display_name": name}
            )
            assert response.status_code == 200
        async with transaction(user_resources.database) as db:
            row = await ProfileRepository(db).get(member.id)
        assert row is not None
        await converged(temporal, member.id, profile_version(row))
        assert await auth_copy(auth_resources, member.id) == ("Fourth Name", profile_version(row))
        assert await directory_names(user_resources, tenants, member.id) == ["Fourth Name"] * 2


async def test_a_repeated_or_older_copy_changes_nothing(
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    """Each copy's activity itself, delivered twice and then an older version (as a retried or
    overtaken attempt would be): only the first write changes rows."""
    from services.common.security_context import SecurityContext, acting_as
    from services.file.owner_names.activities import OwnerNameActivities
    from services.tenant.profile_copies.activities import MemberProfileActivities
    from services.user.profile_sync.activities import DirectoryProfileActivities

    people = await member_of_two_tenants(auth_runtime, tenant_resources, user_resources)
    member = people.member
    change = await _write_profile(user_resources, member.id, "Copied Once")
    steps = [
        ProfileClaimsActivities(auth_runtime).sync_profile_claims,
        MemberProfileActivities(tenant_resources).sync_member_profiles,
        DirectoryProfileActivities(user_resources).sync_directory_profile,
    ]

    def copy(version: int, name: str) -> ProfileCopyInput:
        return ProfileCopyInput(str(member.id), version, name, member.email, f"test:{version}")

    with acting_as(SecurityContext.system("profile-sync-test")):
        first = [await step(copy(change.version, change.display_name)) for step in steps]
        again = [await step(copy(change.version, change.display_name)) for step in steps]
        older = [await step(copy(change.version - 1, "Stale Name")) for step in steps]
        file_copy = await OwnerNameActivities(user_resources).sync_owner_name(
            copy(change.version, change.display_name)
        )
        with pytest.raises(ApplicationError) as hostile:
            await steps[0](copy(-1, "x" * 1_000_000))

    assert [o.changed for o in first] == [1, 2, 2]  # credential; a membership, an entry per tenant
    assert [o.changed for o in again] == [0, 0, 0]
    assert [o.changed for o in older] == [0, 0, 0]
    assert file_copy == ProfileCopyOutput(changed=0, kept=False)
    assert hostile.value.non_retryable and hostile.value.type == "InvalidInput"
    assert await auth_copy(auth_resources, member.id) == ("Copied Once", change.version)
    tenants = [people.team.tenant_id, people.other_tenant]
    assert await directory_names(user_resources, tenants, member.id) == ["Copied Once"] * 2


def flaky_claims(runtime: AuthRuntime, healthy: asyncio.Event, seen: list[int]) -> Any:
    """``auth.sync_profile_claims`` failing (retryably, as an outage would) until ``healthy``,
    then the real activity; ``seen`` records the version of every attempt."""
    real = ProfileClaimsActivities(runtime).sync_profile_claims

    async def sync(input: ProfileCopyInput) -> ProfileCopyOutput:
        seen.append(input.version)
        if not healthy.is_set():
            raise ApplicationError("auth is down", type="InjectedOutage")
        return await real(input)

    sync.__annotations__ = {"input": ProfileCopyInput, "return": ProfileCopyOutput}
    return SYNC_PROFILE_CLAIMS.implement(sync)


async def test_a_failing_copy_retries_without_holding_newer_changes_back(
    temporal: Client,
    sync_stack: Any,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    people = await member_of_two_tenants(auth_runtime, tenant_resources, user_resources)
    member, tenants = people.member, [people.team.tenant_id, people.other_tenant]
    healthy, seen = asyncio.Event(), list[int]()
    replace = {SYNC_PROFILE_CLAIMS.name: flaky_claims(auth_runtime, healthy, seen)}
    async with sync_stack(replace=replace) as stack:
        first = await _write_profile(user_resources, member.id, "During Outage")
        await announce(stack.users, first)
        others = ("tenant", "directory", "file")
        await converged(temporal, member.id, first.version, copies=others)

        second = await _write_profile(user_resources, member.id, "After Outage")
        await announce(stack.users, second)
        state = await converged(temporal, member.id, second.version, copies=others)
        assert state.applied.get("auth", 0) == 0, state  # still failing, nobody waited for it
        assert await directory_names(user_resources, tenants, member.id) == ["After Outage"] * 2

        healthy.set()
        state = await converged(temporal, member.id, second.version)
        assert state.failed == {}
        assert first.version in seen and seen[-1] == second.version
        # The attempt for the older change gave way: it never wrote after the newer one.
        assert await auth_copy(auth_resources, member.id) == ("After Outage", second.version)


async def test_an_admin_of_another_tenant_cannot_change_or_sync_a_member(
    temporal: Client,
    sync_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    people = await member_of_two_tenants(auth_runtime, tenant_resources, user_resources)
    stranger = people.team.owner  # owner of tenant A; Bea (tenant B's owner) is not in A
    victim = (
        await member_of_two_tenants(auth_runtime, tenant_resources, user_resources)
    ).other_owner
    async with sync_stack() as stack:
        refused = await patch_profile(
            stack.user_api,
            stranger.id,
            people.team.tenant_id,
            victim.id,
            {"display_name": "Taken Over"},
            role="owner",
        )
        # With a token of B's tenant id but no membership there: the same answer.
        forged = await patch_profile(
            stack.user_api,
            stranger.id,
            people.other_tenant,
            victim.id,
            {"display_name": "Taken Over"},
            role="owner",
        )
    assert refused.status_code == forged.status_code == 404
    assert refused.headers["content-type"].startswith("application/problem+json")
    async with transaction(user_resources.database) as db:
        row = await ProfileRepository(db).get(victim.id)
    assert row is not None and row.display_name == "Bea"
    with pytest.raises(RPCError):
        await sync_run(temporal, victim.id).describe()


@pytest.mark.parametrize(
    "body",
    [
        {"display_name": "x" * 1_000_000},
        {"display_name": 42},
        {"display_name": ["a"]},
        b'{"display_name": "\xff\xfe"}',
        b"\xff" * 1000,
    ],
    ids=["megabyte", "number", "list", "bad-utf8-string", "bad-utf8-body"],
)
async def test_bad_input_is_refused_and_starts_nothing(
    body: Any,
    temporal: Client,
    sync_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    people = await member_of_two_tenants(auth_runtime, tenant_resources, user_resources)
    member = people.member
    async with sync_stack() as stack:
        response = await patch_profile(stack.user_api, member.id, people.team.tenant_id, None, body)
    assert 400 <= response.status_code < 500, response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert len(response.content) < 5000
    async with transaction(user_resources.database) as db:
        row = await ProfileRepository(db).get(member.id)
    assert row is not None and row.display_name == "Max"
    with pytest.raises(RPCError):
        await sync_run(temporal, member.id).describe()


async def test_a_change_for_another_user_is_dropped(
    temporal: Client,
    sync_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    """A signal naming another user than the run's (a bug or a forged signal) changes nothing."""
    people = await member_of_two_tenants(auth_runtime, tenant_resources, user_resources)
    member, other = people.member, people.owner
    async with sync_stack() as stack:
        change = await _write_profile(user_resources, member.id, "Own Change")
        await announce(stack.users, change)
        await converged(temporal, member.id, change.version)
        forged = await _write_profile(user_resources, other.id, "Someone Else")
        forged.version = change.version + 10**9
        await sync_run(temporal, member.id).signal(PROFILE_CHANGED_SIGNAL, forged)
        await asyncio.sleep(0.5)
        state = await sync_run(temporal, member.id).query(UserProfileSyncWorkflow.sync_state)
    assert state.latest_version == change.version and state.changes == 1
    tenants = [people.team.tenant_id, people.other_tenant]
    assert await directory_names(user_resources, tenants, member.id) == ["Own Change"] * 2


async def test_the_run_continues_as_new_and_ends_when_idle(
    temporal: Client,
    sync_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    """After ``max_changes`` the run continues as new carrying what each copy holds; idle, it
    ends with every copy at the latest change. With ``ADX_RECORD_HISTORIES=1`` its two runs are
    the replay histories (``tests/histories/user_profile_sync*.json``)."""
    from services.common.security_context import SecurityContext, acting_as
    from tests.auth.mail_flows import record_history
    from workflows.accounts.profile_sync import ProfileSyncInput, user_profile_sync_workflow_id

    people = await member_of_two_tenants(auth_runtime, tenant_resources, user_resources)
    member = people.member
    async with sync_stack() as stack:
        first = await _write_profile(user_resources, member.id, "One")
        with acting_as(SecurityContext.system("profile-sync-test")):
            handle = await temporal.start_workflow(
                UserProfileSyncWorkflow.run,
                ProfileSyncInput(user_id=str(member.id), max_changes=2, idle_seconds=2.0),
                id=user_profile_sync_workflow_id(str(member.id)),
                task_queue=f"{stack.prefix}-user",
                start_signal=PROFILE_CHANGED_SIGNAL,
                start_signal_args=[first],
            )
        await converged(temporal, member.id, first.version)
        second = await _write_profile(user_resources, member.id, "Two")
        await handle.signal(PROFILE_CHANGED_SIGNAL, second)
        await converged(temporal, member.id, second.version)
        third = await _write_profile(user_resources, member.id, "Three")
        await announce(stack.users, third)
        result = await handle.result()  # follows the chain to its last run

        first_run = temporal.get_workflow_handle(handle.id, run_id=handle.result_run_id)
        await record_history(first_run, "user_profile_sync")
        await record_history(sync_run(temporal, member.id), "user_profile_sync.idle")
    assert (result.version, result.changes) == (third.version, 3)
    assert set(result.applied.values()) == {third.version}
    last = await sync_run(temporal, member.id).describe()
    assert last.run_id != handle.result_run_id  # a second run of the chain ended it
    tenants = [people.team.tenant_id, people.other_tenant]
    assert await directory_names(user_resources, tenants, member.id) == ["Three"] * 2
