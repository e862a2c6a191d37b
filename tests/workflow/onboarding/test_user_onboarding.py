"""``user_onboarding`` end to end on the real dev server, PostgreSQL and Redis: a new person (the
account created without a password, the membership, claims, profile, default preferences,
checklist, directory entry, the welcome mail in their locale and the set-password link), an
existing account, an existing member (a no-op), and a retried start answering the first result.
With ``ADX_RECORD_HISTORIES=1`` the new person's runs are the replay histories
(``tests/histories/user_onboarding.json``, ``user_first_run.json``)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.client import Client

from services.auth.runtime import AuthRuntime
from services.common.resources import Resources
from services.common.settings import Settings
from services.user.preferences.document import Scope, defaults
from storage.db import transaction
from storage.users.preferences import PreferencesRepository
from storage.users.repository import ProfileRepository
from tests.auth.mail_flows import SmtpSink, plain_text, record_history, wait_for_outbox
from tests.auth.users import create_user
from tests.workflow.onboarding.stack import onboard, provisioned, request, traces
from workflows.onboarding.user_onboarding import user_first_run_workflow_id

pytestmark = pytest.mark.timeout(120)


async def test_a_new_person_lands_fully_set_up(
    temporal: Client,
    onboarding_stack: Any,
    smtp_sink: SmtpSink,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    owner = await create_user(auth_runtime)
    email = f"new-{uuid.uuid4().hex[:10]}@example.com"
    async with onboarding_stack(smtp=smtp_sink) as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        handle = await onboard(
            temporal,
            stack,
            request(
                tenant_id,
                owner.id,
                email,
                given_name="Grete",
                family_name="Weiß",
                locale="de-AT",
                time_zone="Europe/Vienna",
            ),
        )
        result = await handle.result()
        received = await smtp_sink.wait_for(email, count=2)
        await record_history(handle, "user_onboarding")
        await record_history(
            temporal.get_workflow_handle(
                user_first_run_workflow_id(handle.id.removeprefix("user-onboarding-"))
            ),
            "user_first_run",
        )
        progress = await handle.query("progress")
    found = await traces(
        email, tenant_id, auth=auth_resources, tenant=tenant_resources, user=user_resources
    )
    assert result.account_created and result.membership_created and result.first_run_created
    assert found.account == uuid.UUID(result.user_id)
    assert (found.membership, found.claims) == ("member", ["member"])
    assert found.profile and found.preferences == 2 and found.directory and found.first_run
    uid = uuid.UUID(result.user_id)
    async with transaction(user_resources.database, uuid.UUID(tenant_id), user_id=uid) as db:
        profile = await ProfileRepository(db).get(uid)
        stored = await PreferencesRepository(db).of(uid, None)
    assert profile is not None and (profile.given_name, profile.locale) == ("Grete", "de-AT")
    assert stored is not None and stored.values == defaults(Scope.USER)
    # Both over SMTP: the welcome in the person's locale, and the link that sets the password.
    subjects = {str(m.message["Subject"]) for m in received}
    assert "Willkommen bei Tenant " in " ".join(subjects), subjects
    welcome = next(m for m in received if str(m.message["Subject"]).startswith("Willkommen"))
    assert "Hallo Grete" in welcome.text and "Passwort" in welcome.text
    assert any("/reset-password?token=" in m.text for m in received)
    assert progress["state"] == "completed" and progress["percent"] == 100


async def test_an_existing_account_joins_and_an_existing_member_is_a_no_op(
    temporal: Client,
    onboarding_stack: Any,
    settings: Settings,
    auth_runtime: AuthRuntime,
    auth_resources: Resources,
    tenant_resources: Resources,
    user_resources: Resources,
) -> None:
    owner, person = await create_user(auth_runtime), await create_user(auth_runtime)
    async with onboarding_stack() as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        first = await (
            await onboard(
                temporal, stack, request(tenant_id, owner.id, person.email, role="viewer")
            )
        ).result()
        again = await (
            await onboard(temporal, stack, request(tenant_id, owner.id, person.email, role="admin"))
        ).result()
        owner_again = await (
            await onboard(temporal, stack, request(tenant_id, owner.id, owner.email))
        ).result()
        mails = await wait_for_outbox(settings, person.email, count=1)
    found = await traces(
        person.email, tenant_id, auth=auth_resources, tenant=tenant_resources, user=user_resources
    )
    assert (first.user_id, first.account_created, first.membership_created) == (
        str(person.id),
        False,
        True,
    )
    assert (again.account_created, again.membership_created, again.first_run_created) == (
        False,
        False,
        False,
    )
    assert not owner_again.membership_created
    # The second request changed nothing: the role stays, no second welcome, no reset link.
    assert (found.membership, found.claims) == ("viewer", ["viewer"])
    assert len(mails) == 1 and "reset-password" not in plain_text(mails[0])


async def test_a_retried_start_answers_the_first_result(
    temporal: Client, onboarding_stack: Any, auth_runtime: AuthRuntime
) -> None:
    owner = await create_user(auth_runtime)
    email = f"retry-{uuid.uuid4().hex[:10]}@example.com"
    async with onboarding_stack() as stack:
        tenant_id = await provisioned(temporal, stack, owner.id)
        same = request(tenant_id, owner.id, email, idempotency_key=f"key-{uuid.uuid4().hex}")
        first = await onboard(temporal, stack, same)
        done = await first.result()
        second = await onboard(temporal, stack, same)
        assert second.id == first.id
        assert await second.result() == done
    assert done.account_created
