"""The activities of ``user_first_run`` (task queue ``<prefix>-user``): the set-up in one
transaction, the welcome mail once per member and tenant, and the compensation that removes
exactly what the set-up created (``users.first_runs.created``). Only ``user_first_run`` (or the
platform) runs them, under its run's key: its parent ``user_onboarding`` checked the actor
against the tenant's rows before."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from services.common.mailer import Mailer, mailer_from_settings
from services.common.resources import Resources
from services.common.security_context import require_flow_step
from services.user.first_run.checklist import checklist_of
from services.user.first_run.mails import language_of, welcome_mail
from services.user.preferences.document import CURRENT_VERSION, Scope, defaults
from storage.db import DbSession, transaction
from storage.users.directory import DirectoryRepository, name_text
from storage.users.first_runs import FirstRunRepository
from storage.users.models import Profile
from storage.users.preferences import PreferencesRepository
from storage.users.repository import ProfileRepository
from workflows.auth.contracts import InvalidEmailError, normalize_email
from workflows.common.errors import business_error
from workflows.onboarding.contracts import OnboardingWorkflow
from workflows.user import first_run_contracts as contracts
from workflows.user import rules
from workflows.user.contracts import UserError
from workflows.user.directory_contracts import DirectoryStatus

FLOWS = (OnboardingWorkflow.USER_FIRST_RUN,)
#: The optional fields the set-up fills where the profile has none, and their rules.
FIELDS: dict[str, Callable[[str], str]] = {
    "given_name": rules.clean_given_name,
    "family_name": rules.clean_family_name,
    "locale": rules.clean_locale,
    "time_zone": rules.clean_time_zone,
}


def _uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise business_error(UserError.INVALID_INPUT, f"invalid {what}") from None


def _cleaned(input: contracts.PrepareFirstRunInput) -> tuple[str, dict[str, str]]:
    """The display name (given, or from the names, or the address's local part) and the
    optional fields given, each through its rule; a broken rule names the field."""
    try:
        values = {
            name: clean(getattr(input, name))
            for name, clean in FIELDS.items()
            if getattr(input, name) is not None
        }
        if input.display_name is not None:
            display = rules.clean_display_name(input.display_name)
        else:
            names = " ".join(v for k, v in values.items() if k in ("given_name", "family_name"))
            display = rules.clean_display_name(names or input.email.split("@", 1)[0])
    except rules.RuleViolation as error:
        raise business_error(error.error, error.message) from error
    return display, values


class FirstRunActivities:
    def __init__(self, resources: Resources, mailer: Mailer | None = None) -> None:
        self.database = resources.database
        self.mailer = mailer or mailer_from_settings(resources.settings)

    @contracts.PREPARE_FIRST_RUN.implement
    async def prepare_first_run(
        self, input: contracts.PrepareFirstRunInput
    ) -> contracts.PrepareFirstRunOutput:
        require_flow_step(input.idempotency_key, *FLOWS)
        tenant_id, user_id = _uuid(input.tenant_id, "tenant id"), _uuid(input.user_id, "user id")
        if not 1 <= len(input.role) <= 50:
            raise business_error(UserError.INVALID_INPUT, "a role has 1-50 characters")
        try:
            email = normalize_email(input.email)
        except InvalidEmailError as error:
            raise business_error(UserError.INVALID_INPUT, str(error)) from error
        display, values = _cleaned(input)
        async with transaction(self.database, tenant_id, user_id=user_id) as db:
            first_runs = FirstRunRepository(db, tenant_id)
            existing = await first_runs.of(user_id)
            if existing is not None:
                # Set up before: by this very step (a retry), or by an earlier onboarding.
                mine = existing.idempotency_key == input.idempotency_key
                return contracts.PrepareFirstRunOutput(
                    created=mine,
                    profile_created=mine and bool(existing.created.get("profile")),
                    checklist=[contracts.ChecklistEntry(**e) for e in existing.checklist],
                )
            profile, created_profile = await self._profile(
                db, user_id, email, display, values, input
            )
            created = {
                "profile": created_profile,
                "preferences": await _default_preferences(db, user_id, None, Scope.USER),
                "tenant_preferences": await _default_preferences(
                    db, user_id, tenant_id, Scope.TENANT
                ),
                "directory": await _join_directory(db, tenant_id, profile, input.role),
            }
            checklist = checklist_of(profile, password_set=not input.needs_password)
            await first_runs.create(
                user_id,
                checklist=[{"item": e.item, "done": e.done} for e in checklist],
                created=created,
                idempotency_key=input.idempotency_key,
            )
        return contracts.PrepareFirstRunOutput(
            created=True, profile_created=created_profile, checklist=checklist
        )

    async def _profile(
        self,
        db: DbSession,
        user_id: uuid.UUID,
        email: str,
        display: str,
        values: dict[str, str],
        input: contracts.PrepareFirstRunInput,
    ) -> tuple[Profile, bool]:
        """The profile created, or completed: only the fields it lacks are filled in."""
        profiles = ProfileRepository(db)
        created = await profiles.create(
            id_=user_id, email=email, display_name=display, idempotency_key=input.idempotency_key
        )
        row = await profiles.get(user_id)
        assert row is not None
        missing = {k: v for k, v in values.items() if getattr(row, k) is None}
        if missing:
            row = await profiles.update(user_id, missing) or row
        return row, created

    @contracts.SEND_WELCOME_MAIL.implement
    async def send_welcome_mail(
        self, input: contracts.SendWelcomeMailInput
    ) -> contracts.SendWelcomeMailOutput:
        """Once per member and tenant: marked sent after delivery (a crash in between sends
        the same mail again, with the same Message-ID)."""
        require_flow_step(input.idempotency_key, *FLOWS)
        tenant_id, user_id = _uuid(input.tenant_id, "tenant id"), _uuid(input.user_id, "user id")
        async with transaction(self.database, tenant_id, user_id=user_id) as db:
            first_run = await FirstRunRepository(db, tenant_id).of(user_id)
            profile = await ProfileRepository(db).get(user_id)
        if first_run is None or profile is None:
            raise business_error(UserError.USER_NOT_FOUND, "no first-run set-up for this member")
        language = language_of(profile.locale)
        if first_run.welcome_sent_at is not None:
            return contracts.SendWelcomeMailOutput(sent=False, locale=language)
        await self.mailer.send(
            welcome_mail(
                to=profile.email,
                name=profile.given_name or profile.display_name,
                tenant=input.tenant_name,
                locale=profile.locale,
                needs_password=input.needs_password,
                key=input.idempotency_key,
            )
        )
        async with transaction(self.database, tenant_id, user_id=user_id) as db:
            await FirstRunRepository(db, tenant_id).mark_welcomed(user_id, datetime.now(UTC))
        return contracts.SendWelcomeMailOutput(sent=True, locale=language)

    @contracts.UNDO_FIRST_RUN.implement
    async def undo_first_run(
        self, input: contracts.UndoFirstRunInput
    ) -> contracts.UndoFirstRunOutput:
        require_flow_step(input.prepared_key, *FLOWS)
        tenant_id, user_id = _uuid(input.tenant_id, "tenant id"), _uuid(input.user_id, "user id")
        removed: list[str] = []
        async with transaction(self.database, tenant_id, user_id=user_id) as db:
            first_runs = FirstRunRepository(db, tenant_id)
            row = await first_runs.of(user_id)
            if row is None or row.idempotency_key != input.prepared_key:
                return contracts.UndoFirstRunOutput(removed=removed)  # not this step's
            created = row.created
            if created.get("directory") and await DirectoryRepository(db, tenant_id).remove(
                user_id
            ):
                removed.append("directory")
            preferences = PreferencesRepository(db)
            if created.get("tenant_preferences") and await preferences.remove(user_id, tenant_id):
                removed.append("tenant_preferences")
            if created.get("preferences") and await preferences.remove(user_id, None):
                removed.append("preferences")
            profiles = ProfileRepository(db)
            if (
                created.get("profile")
                and await profiles.idempotency_key(user_id) == input.prepared_key
                and await profiles.delete(user_id)
            ):
                removed.append("profile")
            await first_runs.remove(user_id)
            removed.append("checklist")
        return contracts.UndoFirstRunOutput(removed=removed)

    def all(self) -> list[Callable[..., Any]]:
        return [self.prepare_first_run, self.send_welcome_mail, self.undo_first_run]


async def _default_preferences(
    db: DbSession, user_id: uuid.UUID, tenant_id: uuid.UUID | None, scope: Scope
) -> bool:
    """The schema's defaults stored where the user has no preferences of this scope yet."""
    preferences = PreferencesRepository(db)
    if await preferences.of(user_id, tenant_id) is not None:
        return False
    await preferences.put(
        user_id, tenant_id, schema_version=CURRENT_VERSION, values=defaults(scope)
    )
    return True


async def _join_directory(db: DbSession, tenant_id: uuid.UUID, profile: Profile, role: str) -> bool:
    """The member's entry in the tenant's directory copy, unless the tenant flows made it."""
    directory = DirectoryRepository(db, tenant_id)
    if await directory.entry(profile.id) is not None:
        return False
    await directory.upsert(
        profile.id,
        role=role,
        status=DirectoryStatus.ACTIVE.value,
        joined_at=None,
        display_name=profile.display_name,
        email=profile.email,
        search_name=name_text(profile.display_name, profile.given_name, profile.family_name),
    )
    return True
