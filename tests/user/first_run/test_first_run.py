"""``user_first_run`` on a real user worker (the child of ``user_onboarding``, run here on its
own): an existing profile completed, not overwritten; default preferences; the directory entry;
the checklist stored and read through ``GET /users/me/checklist`` (ticked as the profile is
completed; the active tenant's only); a second run a no-op; a failed welcome undoes exactly what
the set-up created."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError

from services.common.resources import Resources
from services.common.security_context import SecurityContext, acting_as
from services.common.settings import ServiceName, Settings
from services.user.preferences.document import Scope, defaults
from services.user.service import SPEC as USER
from storage.db import transaction
from storage.users.directory import DirectoryRepository
from storage.users.first_runs import FirstRunRepository
from storage.users.preferences import PreferencesRepository
from storage.users.repository import ProfileRepository
from tests.auth.mail_flows import outbox_mails, plain_text, wait_for_outbox
from tests.tenant.workflows.stack import failing
from tests.user.user_api import UserApi
from tests.workers import running_workers
from workflows.user.first_run import UserFirstRunWorkflow
from workflows.user.first_run_contracts import SEND_WELCOME_MAIL, UserFirstRunInput

pytestmark = pytest.mark.timeout(120)


@asynccontextmanager
async def user_worker(
    settings: Settings, user_resources: Resources, replace: dict[str, Any] | None = None
) -> AsyncIterator[str]:
    prefix = f"fr{uuid.uuid4().hex[:8]}"
    async with running_workers(settings, ((USER, user_resources),), prefix, replace) as local:
        yield local.task_queue(ServiceName.user)


async def first_run(temporal: Client, queue: str, input: UserFirstRunInput) -> Any:
    with acting_as(SecurityContext.for_user(str(uuid.uuid4()))):
        handle = await temporal.start_workflow(
            UserFirstRunWorkflow.run,
            input,
            id=f"user-first-run-test-{uuid.uuid4().hex}",
            task_queue=queue,
        )
    return handle


async def rows(resources: Resources, tenant_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
    async with transaction(resources.database, tenant_id, user_id=user_id) as db:
        preferences = PreferencesRepository(db)
        return {
            "profile": await ProfileRepository(db).get(user_id),
            "preferences": await preferences.of(user_id, None),
            "tenant_preferences": await preferences.of(user_id, tenant_id),
            "directory": await DirectoryRepository(db, tenant_id).entry(user_id),
            "first_run": await FirstRunRepository(db, tenant_id).of(user_id),
        }


async def test_first_run_completes_the_profile_and_the_checklist_follows_it(
    temporal: Client, settings: Settings, user_resources: Resources, user_api: UserApi
) -> None:
    tenant_id, other_tenant = uuid.uuid4(), uuid.uuid4()
    email = f"fr-{uuid.uuid4().hex[:10]}@example.com"
    user_id = await user_api.profile("Kept Name", email=email)
    input = UserFirstRunInput(
        tenant_id=str(tenant_id),
        user_id=str(user_id),
        role="member",
        email=email,
        tenant_name="Acme",
        display_name="Not Taken",
        given_name="Amélie",
        family_name="Poulain",
        locale="fr-FR",
        needs_password=True,
    )
    async with user_worker(settings, user_resources) as queue:
        done = await (await first_run(temporal, queue, input)).result()
        again = await (await first_run(temporal, queue, input)).result()
    found = await rows(user_resources, tenant_id, user_id)
    (mail,) = await wait_for_outbox(settings, email)
    async with user_api.client(user_id, tenant_id, "member") as client:
        before = (await client.get("/users/me/checklist")).json()
        await client.patch("/users/me", json={"time_zone": "Europe/Paris"})
        after = (await client.get("/users/me/checklist")).json()
        # Hostile extras (invalid UTF-8, a long query: httpx allows no megabyte) change nothing.
        hostile = [
            await client.get("/users/me/checklist?%ff%fe=%c3%28"),
            await client.get("/users/me/checklist", params={"x": "y" * 60_000}),
        ]
    async with user_api.client(user_id, other_tenant, "member") as client:
        elsewhere = await client.get("/users/me/checklist")
    async with user_api.client(user_id, None) as client:
        no_tenant = await client.get("/users/me/checklist")
    async with user_api.client(uuid.uuid4(), tenant_id, "admin") as client:
        stranger = await client.get("/users/me/checklist")

    assert (done.created, done.profile_created, done.welcome_sent) == (True, False, True)
    assert (again.created, again.welcome_sent) == (False, False)
    profile = found["profile"]
    assert (profile.display_name, profile.given_name, profile.locale) == (
        "Kept Name",
        "Amélie",
        "fr-FR",
    )
    assert found["preferences"].values == defaults(Scope.USER)
    assert found["tenant_preferences"].values == defaults(Scope.TENANT)
    assert found["directory"].role == "member"
    assert str(mail["Subject"]) == "Bienvenue dans Acme"
    assert "Bonjour Amélie" in plain_text(mail) and "mot de passe" in plain_text(mail)
    assert len(outbox_mails(settings, email)) == 1
    items = {i["item"]: i["done"] for i in before["items"]}
    assert items == {
        "set_password": False,
        "name": True,
        "locale": True,
        "time_zone": False,
        "avatar": False,
    }
    assert {i["item"]: i["done"] for i in after["items"]}["time_zone"] is True
    assert not after["complete"] and after["welcome_sent_at"]
    assert [r.status_code for r in hostile] == [200, 200]
    assert all(r.json()["items"] == after["items"] for r in hostile)
    assert elsewhere.status_code == no_tenant.status_code == stranger.status_code == 404
    assert elsewhere.headers["content-type"].startswith("application/problem+json")


async def test_a_failed_welcome_undoes_only_what_the_set_up_created(
    temporal: Client, settings: Settings, user_resources: Resources, user_api: UserApi
) -> None:
    tenant_id = uuid.uuid4()
    email = f"fr-{uuid.uuid4().hex[:10]}@example.com"
    existing = await user_api.profile("Already Here", email=email)
    fresh = uuid.uuid4()
    replace = {SEND_WELCOME_MAIL.name: failing(SEND_WELCOME_MAIL)}
    async with user_worker(settings, user_resources, replace) as queue:
        for user_id, address in ((existing, email), (fresh, f"new-{email}")):
            handle = await first_run(
                temporal,
                queue,
                UserFirstRunInput(str(tenant_id), str(user_id), "viewer", address),
            )
            with pytest.raises(WorkflowFailureError):
                await handle.result()
    kept = await rows(user_resources, tenant_id, existing)
    gone = await rows(user_resources, tenant_id, fresh)
    assert kept["profile"] is not None and kept["profile"].display_name == "Already Here"
    assert {k: v for k, v in kept.items() if k != "profile"} == dict.fromkeys(
        ("preferences", "tenant_preferences", "directory", "first_run")
    )
    assert all(v is None for v in gone.values()), gone
