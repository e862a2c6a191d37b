"""The batched bulk import (``bulk-import-batched``) through ``POST /users/bulk/operations?operation=import``
on the real dev server and the real auth, tenant and user workers: malformed rows reported at
upload, and per batch the accounts, memberships, claims, user rows and welcome mails, each row's
refusal (a repeated address, an existing member, a role the tenant does not know) failing that
row alone with what was done for it undone; an address that has an account already joins with
it; each new account's set-password link mailed (``bulk_password_links``) and used. The runs of
the first test are the replay histories ``bulk_user_operation.v3-links`` and
``bulk_password_links``."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select, update
from temporalio.client import Client, WorkflowExecutionStatus

from services.auth.runtime import AuthRuntime
from services.common.mailer import SmtpMailer
from services.common.resources import Resources
from services.user.bulk.import_batch import MAIL_FAILED, BulkImportUserActivities
from storage.auth.claims import ClaimsRepository
from storage.auth.models import Credential
from storage.db import transaction
from storage.tenants.models import Tenant
from storage.tenants.repository import MembershipRepository
from storage.users.directory import DirectoryRepository
from storage.users.first_runs import FirstRunRepository
from storage.users.models import Preferences
from storage.users.repository import ProfileRepository
from tests.auth.mail_flows import (
    auth_api,
    link_token,
    outbox_mails,
    plain_text,
    record_history,
    wait_for_outbox,
)
from tests.auth.users import create_user
from tests.user.bulk.bulk_api import (
    bulk_client,
    cancel_after_first_row,
    finished,
    report,
    rows_by_status,
    team,
    upload,
)
from workflows.auth.bulk_import_contracts import BULK_PASSWORD_LINKS
from workflows.auth.bulk_password_links import BulkPasswordLinksWorkflow
from workflows.tenant.bulk_import_contracts import ALREADY_MEMBER

pytestmark = pytest.mark.timeout(240)
RESET = "Reset your password"
NEW_PASSWORD = "a-long-new-Passw0rd!"


async def _account(auth_runtime: AuthRuntime, email: str) -> uuid.UUID | None:
    async with transaction(auth_runtime.resources.database) as db:
        return await db.scalar(select(Credential.id).where(Credential.email == email))


async def test_csv_import_runs_batched_and_fails_bad_rows_alone(
    temporal: Client,
    bulk_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    tag = uuid.uuid4().hex[:8]
    ann, eve, ghost = (f"{n}-{tag}@example.com" for n in ("ann", "eve", "ghost"))
    async with bulk_stack() as stack:
        a = await team(temporal, stack, auth_runtime, tenant_resources, user_resources, 1)
        (member,) = a.members
        known = await create_user(auth_runtime)  # an account, no member of the tenant
        csv = (
            "email,display_name,given_name,family_name,role,locale,time_zone\n"
            f"{ann},Ann Example,Ann,Example,admin,de-ch,Europe/Zurich\n"
            "not-an-address,Bob,,,member,,\n"
            "cy@example.com,Cy\n"
            f"{member.email},Already,,,,,\n"
            f"{known.email.upper()},Known,,,,fr,\n"
            f"{ghost},Ghost,,,ghost-role,,\n"
            f"{eve},Eve,,,,,\n"
            f"{eve.upper()},Eve again,,,,,\n"
        )
        async with bulk_client(
            user_resources, auth_runtime, stack, a.owner.id, a.tenant_id, user_bulk_batch_size=3
        ) as client:
            started = await upload(client, "import", csv.encode())
            assert started.status_code == 202, started.text
            workflow_id = started.json()["workflow_id"]
            result = await finished(temporal, workflow_id)
            handle = temporal.get_workflow_handle(workflow_id)
            await record_history(handle, "bulk_user_operation.v3-links")
            got = await report(client, workflow_id)
            history = await handle.fetch_history()
        # Ann's link (a batch of her own among the new accounts: rows 1, 4, 5) sets her first
        # password, which ends that batch's links run.
        settings = auth_runtime.resources.settings
        mails = await wait_for_outbox(settings, ann, count=2, timeout=60)
        (reset,) = [m for m in mails if m["Subject"] == RESET]
        async with auth_api(auth_runtime.resources) as api:
            confirmed = await api.post(
                "/auth/password-reset/confirm",
                json={
                    "token": link_token(plain_text(reset), "/reset-password"),
                    "new_password": NEW_PASSWORD,
                },
            )
            assert confirmed.status_code == 200, confirmed.text
            again = await api.post(
                "/auth/password-reset/confirm",
                json={
                    "token": link_token(plain_text(reset), "/reset-password"),
                    "new_password": NEW_PASSWORD,
                },
            )
            signed_in = await api.post("/auth/login", json={"email": ann, "password": NEW_PASSWORD})
        links = [
            e.start_child_workflow_execution_initiated_event_attributes
            for e in history.events
            if e.HasField("start_child_workflow_execution_initiated_event_attributes")
        ]
        ann_links = temporal.get_workflow_handle_for(
            BulkPasswordLinksWorkflow.run, links[0].workflow_id
        )
        links_result = await asyncio.wait_for(ann_links.result(), 60)
        await record_history(ann_links, "bulk_password_links")
        await wait_for_outbox(settings, eve, count=2, timeout=60)

    # No user_onboarding child: the batched path ran; a links run per batch with new accounts.
    assert [link.workflow_type.name for link in links] == [BULK_PASSWORD_LINKS] * 2
    assert (links_result.mailed, links_result.redeemed) == (1, 1)
    assert again.status_code == 400  # the link works once
    assert signed_in.status_code == 200, signed_in.text
    assert (result.total, result.done, result.failed) == (8, 3, 5), got
    assert rows_by_status(got) == {"done": [1, 5, 7], "failed": [2, 3, 4, 6, 8]}
    rows = {r["row_number"]: r for r in got["rows"]}
    assert rows[2]["error"].startswith("email:")
    assert rows[3]["error"] == "the row has 2 fields, the header 7"
    assert rows[4]["error"] == ALREADY_MEMBER
    assert "ghost-role" in rows[6]["error"]
    assert rows[8]["error"] == "duplicate of row 7"
    assert rows[5]["user_id"] == str(known.id)  # the existing account, not a new one

    tid = uuid.UUID(a.tenant_id)
    ann_id = uuid.UUID(rows[1]["user_id"])
    assert await _account(auth_runtime, ann) == ann_id
    assert await _account(auth_runtime, ghost) is None  # created for the row, then undone
    async with transaction(tenant_resources.database, tid) as db:
        memberships = MembershipRepository(db, tid)
        roles = {
            n: m.role if (m := await memberships.of_user(uuid.UUID(rows[n]["user_id"]))) else None
            for n in (1, 5, 7)
        }
        assert await memberships.of_user(member.id) is not None  # left as it was
    assert roles == {1: "admin", 5: "member", 7: "member"}
    async with transaction(auth_runtime.resources.database) as db:
        assert await ClaimsRepository(db).roles(ann_id, tid) == ["admin"]
    async with transaction(user_resources.database, tid, user_id=ann_id) as db:
        profile = await ProfileRepository(db).get(ann_id)
        entry = await DirectoryRepository(db, tid).entry(ann_id)
        first_run = await FirstRunRepository(db, tid).of(ann_id)
        scopes = set(
            await db.scalars(select(Preferences.tenant_id).where(Preferences.user_id == ann_id))
        )
    assert profile is not None and (profile.given_name, profile.family_name) == ("Ann", "Example")
    assert (profile.locale, profile.time_zone, profile.display_name) == (
        "de-CH",
        "Europe/Zurich",
        "Ann Example",
    )
    assert entry is not None and (entry.email, entry.role) == (ann, "admin")
    assert first_run is not None and first_run.welcome_sent_at is not None
    assert {"item": "set_password", "done": False} in first_run.checklist
    assert scopes == {None, tid}  # own and the tenant's defaults

    settings = user_resources.settings
    (welcome,) = [m for m in outbox_mails(settings, ann) if m["Subject"] != RESET]
    assert welcome["Subject"].startswith("Willkommen") and "Passwort" in plain_text(welcome)
    assert sorted(m["Subject"] == RESET for m in outbox_mails(settings, eve)) == [False, True]
    (known_mail,) = outbox_mails(settings, known.email)
    assert known_mail["Subject"].startswith("Bienvenue")
    assert "mot de passe" not in plain_text(known_mail)  # the account has a password
    assert outbox_mails(settings, member.email) == outbox_mails(settings, ghost) == []


async def test_json_import(
    temporal: Client,
    bulk_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    tag = uuid.uuid4().hex[:8]
    rows = [
        {"email": f"hal-{tag}@example.com", "display_name": "Hal"},
        {"email": 42},
        "not an object",
        {"email": f"ida-{tag}@example.com", "role": "member"},
    ]
    async with bulk_stack() as stack:
        a = await team(temporal, stack, auth_runtime, tenant_resources, user_resources, 0)
        async with bulk_client(
            user_resources, auth_runtime, stack, a.owner.id, a.tenant_id
        ) as client:
            started = await upload(client, "import", json.dumps(rows).encode(), "application/json")
            assert started.status_code == 202, started.text
            workflow_id = started.json()["workflow_id"]
            result = await finished(temporal, workflow_id)
            got = await report(client, workflow_id)

    assert (result.total, result.done, result.failed) == (4, 2, 2), got
    assert rows_by_status(got) == {"done": [1, 4], "failed": [2, 3]}
    assert got["rows"][1]["error"] == "email: must be text"
    assert got["rows"][2]["error"] == "the row is not an object"


async def test_rows_the_tenant_refuses_leave_no_account(
    temporal: Client,
    bulk_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    """Every row's role is unknown to the tenant: the accounts the batch created for them are
    removed again; an account that was there before stays."""
    tag = uuid.uuid4().hex[:8]
    new = [f"nobody{i}-{tag}@example.com" for i in range(3)]
    async with bulk_stack() as stack:
        a = await team(temporal, stack, auth_runtime, tenant_resources, user_resources, 0)
        known = await create_user(auth_runtime)
        body = "email,role\n" + "".join(f"{e},no-such-role\n" for e in [*new, known.email])
        async with bulk_client(
            user_resources, auth_runtime, stack, a.owner.id, a.tenant_id
        ) as client:
            started = await upload(client, "import", body.encode())
            workflow_id = started.json()["workflow_id"]
            result = await finished(temporal, workflow_id)
            got = await report(client, workflow_id)

    assert (result.done, result.failed) == (0, 4), got
    assert all("no-such-role" in r["error"] for r in got["rows"])
    assert [await _account(auth_runtime, e) for e in new] == [None, None, None]
    assert await _account(auth_runtime, known.email) == known.id


async def test_a_failing_mail_step_undoes_its_rows(
    temporal: Client,
    bulk_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    """The mail server refuses the connection (SMTP to a port nobody listens on): each row's
    mail fails, so the row fails and its user rows, claims, membership and new account are
    removed in reverse; the existing account of one row stays, with its own profile."""
    tag = uuid.uuid4().hex[:8]
    new = f"unmailed-{tag}@example.com"
    down = SmtpMailer(host="127.0.0.1", port=9, sender="adx@example.com", timeout=2)
    mails = BulkImportUserActivities(user_resources, mailer=down).bulk_send_welcome_mails
    async with bulk_stack(replace={"user.bulk_send_welcome_mails": mails}) as stack:
        a = await team(temporal, stack, auth_runtime, tenant_resources, user_resources, 0)
        known = await create_user(auth_runtime)
        body = f"email,display_name\n{new},New\n{known.email},Known\n"
        async with bulk_client(
            user_resources, auth_runtime, stack, a.owner.id, a.tenant_id
        ) as client:
            started = await upload(client, "import", body.encode())
            workflow_id = started.json()["workflow_id"]
            result = await finished(temporal, workflow_id)
            got = await report(client, workflow_id)

    assert (result.done, result.failed) == (0, 2), got
    assert all(r["error"].startswith(MAIL_FAILED) for r in got["rows"])
    assert await _account(auth_runtime, new) is None
    assert await _account(auth_runtime, known.email) == known.id
    tid = uuid.UUID(a.tenant_id)
    async with transaction(tenant_resources.database, tid) as db:
        assert await MembershipRepository(db, tid).of_user(known.id) is None
    async with transaction(auth_runtime.resources.database) as db:
        assert await ClaimsRepository(db).roles(known.id, tid) is None
    async with transaction(user_resources.database, tid, user_id=known.id) as db:
        assert await DirectoryRepository(db, tid).entry(known.id) is None
        assert await FirstRunRepository(db, tid).of(known.id) is None
        assert await ProfileRepository(db).get(known.id) is None  # the batch had made it
        own = await db.scalars(select(Preferences).where(Preferences.user_id == known.id))
        assert list(own) == []


async def test_a_cancelled_import_finishes_its_chunks_in_flight(
    temporal: Client,
    bulk_stack: Any,
    auth_runtime: AuthRuntime,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    """Batches of 200 rows run as two chunks of 100 at once (``bulk-import-lanes``); a cancel
    once the first batch is recorded lets the chunks in flight finish and be recorded, whole:
    every row ends done (with its account) or cancelled (with none), none pending."""
    tag = uuid.uuid4().hex[:8]
    emails = [f"lane{i}-{tag}@example.com" for i in range(400)]
    async with bulk_stack() as stack:
        a = await team(temporal, stack, auth_runtime, tenant_resources, user_resources, 0)
        tid = uuid.UUID(a.tenant_id)
        async with transaction(tenant_resources.database, tid) as db:  # room for them all
            await db.execute(update(Tenant).where(Tenant.id == tid).values(seat_quota=1000))
        body = "email\n" + "".join(f"{e}\n" for e in emails)
        async with bulk_client(
            user_resources,
            auth_runtime,
            stack,
            a.owner.id,
            a.tenant_id,
            user_bulk_batch_size=200,
            user_bulk_parallelism=2,
        ) as client:
            started = await upload(client, "import", body.encode())
            workflow_id = started.json()["workflow_id"]
            handle = temporal.get_workflow_handle(workflow_id)
            await cancel_after_first_row(handle)
            got = await report(client, workflow_id)
            history = await handle.fetch_history()
        description = await handle.describe()

    assert description.status == WorkflowExecutionStatus.CANCELED
    assert got["status"] == "cancelled" and got["pending"] == 0
    by = rows_by_status(got)
    done, cancelled = by.get("done", []), by.get("cancelled", [])
    assert sorted(done + cancelled) == list(range(1, 401)), {k: len(v) for k, v in by.items()}
    assert done and cancelled and len(done) % 100 == 0, "whole chunks only"
    ensure = [
        e
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name
        == "auth.bulk_ensure_accounts"
    ]
    assert len(ensure) == len(done) // 100  # a chunk of 100 per step, none for cancelled rows
    accounts = {n: await _account(auth_runtime, emails[n - 1]) for n in (done[0], cancelled[0])}
    assert accounts[done[0]] is not None and accounts[cancelled[0]] is None
