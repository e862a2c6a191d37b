"""The user service's part of the batched import: ``user.bulk_prepare_members`` sets a batch's
members up once (a retried call writes nothing twice and answers the same), the welcome mails go
out once per row in each person's locale (a retried call mails nobody twice), the compensation
removes only what the batch created, and another tenant's run reaches nothing."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from sqlalchemy import func, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.user.bulk.import_batch import NO_ROW, BulkImportUserActivities
from storage.db import transaction
from storage.users.bulk_operations import BulkOperationRepository, NewRow
from storage.users.models import DirectoryEntry, FirstRun, Preferences, Profile
from storage.users.repository import ProfileRepository
from tests.auth.mail_flows import outbox_mails
from workflows.user.bulk_contracts import (
    MemberSetupRow,
    PrepareMembersInput,
    SendWelcomesInput,
    UndoMembersInput,
    WelcomeRow,
)
from workflows.user.contracts import UserWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _in_bulk_run() -> tuple[ActivityEnvironment, str]:
    env = ActivityEnvironment()
    run_id, workflow_id = str(uuid.uuid4()), f"bulk-user-operation-{uuid.uuid4()}"
    env.info = dataclasses.replace(
        env.info,
        workflow_type=UserWorkflow.BULK_USER_OPERATION,
        workflow_id=workflow_id,
        workflow_run_id=run_id,
    )
    return env, f"{workflow_id}:{run_id}:"


async def _operation(
    resources: Resources, tenant_id: uuid.UUID, actor: uuid.UUID, rows: list[dict[str, str]]
) -> uuid.UUID:
    operation_id = uuid.uuid4()
    async with transaction(resources.database, tenant_id) as db:
        await BulkOperationRepository(db, tenant_id).create(
            operation_id=operation_id,
            kind="import",
            actor_id=actor,
            workflow_id=f"bulk-user-operation-{operation_id}",
            rows=[NewRow(n, data, "pending") for n, data in enumerate(rows, start=1)],
        )
    return operation_id


async def _counts(resources: Resources, tenant_id: uuid.UUID, ids: list[uuid.UUID]) -> list[int]:
    counts = []
    async with transaction(resources.database, tenant_id) as db:
        for model, column in (
            (Profile, Profile.id),
            (FirstRun, FirstRun.user_id),
            (DirectoryEntry, DirectoryEntry.user_id),
        ):
            counts.append(
                await db.scalar(select(func.count()).select_from(model).where(column.in_(ids))) or 0
            )
        counts.append(  # the tenant's defaults (own ones need each user as the actor)
            await db.scalar(
                select(func.count())
                .select_from(Preferences)
                .where(Preferences.user_id.in_(ids), Preferences.tenant_id == tenant_id)
            )
            or 0
        )
    for user_id in ids:
        async with transaction(resources.database, tenant_id, user_id=user_id) as db:
            own = await db.scalar(
                select(func.count())
                .select_from(Preferences)
                .where(Preferences.user_id == user_id, Preferences.tenant_id.is_(None))
            )
        counts.append(own or 0)
    return counts


async def test_prepare_and_mail_once_each_on_retries(user_resources: Resources) -> None:
    tenant_id, actor = uuid.uuid4(), uuid.uuid4()
    tag = uuid.uuid4().hex[:8]
    ann, bob = f"ann-{tag}@example.com", f"bob-{tag}@example.com"
    had_profile = uuid.uuid4()
    async with transaction(user_resources.database) as db:
        await ProfileRepository(db).create(
            id_=had_profile, email=bob, display_name="Bob Before", idempotency_key=f"pre-{tag}"
        )
    operation_id = await _operation(
        user_resources,
        tenant_id,
        actor,
        [
            {"email": ann, "given_name": "Ann", "family_name": "Ex", "locale": "es"},
            {"email": bob, "display_name": "Bob", "time_zone": "Europe/Paris"},
        ],
    )
    ann_id = uuid.uuid4()
    ids = [ann_id, had_profile]
    rows = [
        MemberSetupRow(1, str(ann_id), "member", needs_password=True),
        MemberSetupRow(2, str(had_profile), "admin"),
        MemberSetupRow(9, str(uuid.uuid4()), "member"),  # no such row in the operation
    ]
    env, prefix = _in_bulk_run()
    activities = BulkImportUserActivities(user_resources)
    prepare = PrepareMembersInput(str(operation_id), str(tenant_id), rows, f"{prefix}users:0")
    mails = SendWelcomesInput(
        str(tenant_id),
        "Acme",
        [WelcomeRow(1, str(ann_id), True), WelcomeRow(2, str(had_profile), False)],
        f"{prefix}welcome:0",
    )
    with acting_as(SecurityContext.for_user(str(actor), tenant_id=str(tenant_id))):
        first = await env.run(activities.bulk_prepare_members, prepare)
        again = await env.run(activities.bulk_prepare_members, prepare)  # a retry
        sent = await env.run(activities.bulk_send_welcome_mails, mails)
        resent = await env.run(activities.bulk_send_welcome_mails, mails)  # a retry

    assert again == first
    assert [(o.row_number, o.created, o.error) for o in first.outcomes] == [
        (1, True, None),
        (2, True, None),
        (9, False, NO_ROW),
    ]
    assert await _counts(user_resources, tenant_id, ids) == [2, 2, 2, 2, 1, 1]
    async with transaction(user_resources.database) as db:
        bob_profile = await ProfileRepository(db).get(had_profile)
    # An existing profile is completed, never overwritten.
    assert bob_profile is not None
    assert (bob_profile.display_name, bob_profile.time_zone) == ("Bob Before", "Europe/Paris")
    assert [(o.sent, o.error) for o in sent.outcomes] == [(True, None), (True, None)]
    assert [(o.sent, o.error) for o in resent.outcomes] == [(False, None), (False, None)]
    (ann_mail,) = outbox_mails(user_resources.settings, ann)
    (bob_mail,) = outbox_mails(user_resources.settings, bob)
    assert ann_mail["Subject"] == "Te damos la bienvenida a Acme"
    assert bob_mail["Subject"] == "Welcome to Acme"

    undo = UndoMembersInput(str(tenant_id), [str(i) for i in ids], f"{prefix}users:0")
    other_batch = UndoMembersInput(str(tenant_id), [str(i) for i in ids], f"{prefix}users:1")
    with acting_as(SecurityContext.for_user(str(actor), tenant_id=str(tenant_id))):
        nothing = await env.run(activities.bulk_undo_members, other_batch)
        removed = await env.run(activities.bulk_undo_members, undo)
    assert (nothing.removed, removed.removed) == (0, 2)
    # Bob's profile was there before the batch: it stays; all else the batch made is gone.
    assert await _counts(user_resources, tenant_id, ids) == [1, 0, 0, 0, 0, 0]


async def test_another_tenants_run_reaches_nothing(user_resources: Resources) -> None:
    tenant_a, tenant_b, actor = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    operation_id = await _operation(
        user_resources, tenant_a, actor, [{"email": f"x-{uuid.uuid4().hex[:8]}@example.com"}]
    )
    user_id = uuid.uuid4()
    env, prefix = _in_bulk_run()
    activities = BulkImportUserActivities(user_resources)
    batch = PrepareMembersInput(
        str(operation_id), str(tenant_a), [MemberSetupRow(1, str(user_id), "member")], f"{prefix}u"
    )
    with acting_as(SecurityContext.for_user(str(actor), tenant_id=str(tenant_b))):
        with pytest.raises(ApplicationError) as refused:
            await env.run(activities.bulk_prepare_members, batch)
    assert refused.value.type == "SecurityContextDenied"
    # Tenant B's run naming B: A's rows are invisible to it, so its row is not found.
    b_batch = dataclasses.replace(batch, tenant_id=str(tenant_b))
    with acting_as(SecurityContext.for_user(str(actor), tenant_id=str(tenant_b))):
        out = await env.run(activities.bulk_prepare_members, b_batch)
    assert [o.error for o in out.outcomes] == [NO_ROW]
    assert await _counts(user_resources, tenant_a, [user_id]) == [0, 0, 0, 0, 0]
