"""``data_migration``'s repair of profile name copies that drifted at the profile's own version
(written by hand, not by a lost delivery): the version guard of ``user_profile_sync``'s writes
cannot take them, so the repair re-syncs the profile (``user.reconcile_resync_profiles`` bumps its
version, nothing else) and writes every holder again; a later dry run finds no drift. With
``ADX_RECORD_HISTORIES=1`` the repair is ``tests/histories/data_migration.profile_resync.json``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.data_migration import start_data_migration
from storage.auth.models import Credential
from storage.db import transaction
from storage.tenants.models import Membership
from storage.users.models import Profile
from storage.users.repository import profile_version
from tests.auth.mail_flows import record_history
from tests.auth.users import AuthUser
from tests.workflow.reconciliation.members import provisioned
from tests.workflow.reconciliation.test_data_migration import by_copy, reconcile
from tests.workflow.reconciliation.test_profile_names import COPY, member_with_profile, names
from workflows.reconciliation.data_migration import DataMigrationInput


async def test_same_version_drift_is_repaired_by_a_resync(
    temporal: Client, reconciliation_stack: Any, auth_runtime: AuthRuntime, user: AuthUser
) -> None:
    async with reconciliation_stack() as stack:
        tenant_id = await provisioned(temporal, stack, user.id)
        alice, version = await member_with_profile(stack, auth_runtime, tenant_id, "Alice")
        bob, bob_version = await member_with_profile(stack, auth_runtime, tenant_id, "Bob")
        # Hand edits that keep the profile's version: auth's name, the membership's address.
        async with transaction(stack.auth.database) as db:
            await db.execute(
                update(Credential).where(Credential.id == alice).values(display_name="Hand edit")
            )
        async with transaction(stack.tenants.database, tenant_id) as db:
            await db.execute(
                update(Membership)
                .where(Membership.tenant_id == tenant_id, Membership.user_id == alice)
                .values(email="hand@example.com")
            )
        dry = by_copy(await reconcile(temporal, stack, tenant_id, copies=[COPY]))[COPY]
        assert (dry.stale, dry.sample, dry.repaired) == (2, [str(alice)], 0), dry

        handle = await start_data_migration(
            temporal,
            DataMigrationInput(str(tenant_id), mode="repair", copies=[COPY], requested_by="t"),
            task_queue=stack.workflow,
        )
        repaired = by_copy(await handle.result())[COPY]
        await record_history(handle, "data_migration.profile_resync")
        again = await reconcile(temporal, stack, tenant_id, copies=[COPY])
        fixed, untouched = await names(stack, tenant_id, alice), await names(stack, tenant_id, bob)
        async with transaction(stack.users.database) as db:
            profile = await db.get(Profile, alice)
            bob_profile = await db.get(Profile, bob)
        async with transaction(stack.tenants.database, tenant_id) as db:
            email = await db.scalar(
                Membership.__table__.select()
                .with_only_columns(Membership.email)
                .where(Membership.tenant_id == tenant_id, Membership.user_id == alice)
            )

    assert (repaired.stale, repaired.repaired) == (2, 2), repaired
    assert again.drift == 0, again
    assert profile is not None and profile.display_name == "Alice"
    bumped = profile_version(profile)
    assert bumped > version
    # Every holder now holds the bumped version and the profile's own name and address.
    assert fixed == (("Alice", bumped), ("Alice", bumped), "Alice")
    assert email == profile.email
    # Bob was in step: neither his profile nor his copies moved.
    assert bob_profile is not None and profile_version(bob_profile) == bob_version
    assert untouched == (("Bob", bob_version), ("Bob", bob_version), "Bob")
