"""The user service's part of the batched bulk import (``bulk-import-batched``,
``workflows/user/bulk_contracts.py``): what ``user_first_run`` does for one member, for a batch.

- ``user.bulk_prepare_members``: in one transaction, each row's profile created (or its missing
  fields completed), default preferences (own and the tenant's), the checklist
  (``users.first_runs``, under the row's key ``<batch key>:row:<n>``) and the directory entry;
  the names, locale and time zone read from the uploaded row by its number, through the same
  rules as ``user.prepare_first_run``. A row set up before under its own key (a retry) answers
  ``created`` and writes nothing; a member set up by an earlier onboarding answers not created.
- ``user.bulk_send_welcome_mails``: the welcome of each set-up row in the person's locale
  (``services/user/first_run/mails.py``), the sent rows marked every 50 mails, so a retry mails
  nobody marked again (a crash before a mark sends at most those again, with the same
  Message-ID); a mail refused fails its row alone.
- ``user.bulk_undo_members``: the compensation: only what the batch's rows created."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.common.mailer import Mailer, mailer_from_settings
from services.common.resources import Resources
from services.common.security_context import require_flow_step
from services.user.bulk.activities import scope_of
from services.user.first_run.activities import _cleaned
from services.user.first_run.checklist import checklist_of
from services.user.first_run.mails import welcome_mail
from services.user.preferences.document import CURRENT_VERSION, Scope, defaults
from storage.db import DbSession, transaction
from storage.users import bulk_members as store
from storage.users.directory import DirectoryRepository, name_text
from storage.users.first_runs import FirstRunRepository
from storage.users.preferences import PreferencesRepository
from storage.users.repository import ProfileRepository
from workflows.auth.contracts import InvalidEmailError, normalize_email
from workflows.common.errors import business_error
from workflows.user import bulk_contracts as contracts
from workflows.user.contracts import UserError, UserWorkflow
from workflows.user.directory_contracts import DirectoryStatus
from workflows.user.first_run_contracts import PrepareFirstRunInput

FLOW = UserWorkflow.BULK_USER_OPERATION
MAX_ROWS = 500
NO_ROW = "the row is not in this operation"
MAIL_FAILED = "the welcome mail could not be sent"
NO_SETUP = "no first-run set-up for this member"
#: Mails sent between two marks of the sent rows.
MARK_EVERY = 50


def row_key(batch_key: str, row_number: int) -> str:
    return f"{batch_key}:row:{row_number}"


def _uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise business_error(UserError.INVALID_INPUT, f"invalid {what}") from None


def _limit(rows: list[Any]) -> None:
    if len(rows) > MAX_ROWS:
        raise business_error(UserError.INVALID_INPUT, f"at most {MAX_ROWS} rows a batch")


@dataclass(frozen=True)
class _Cleaned:
    email: str
    display: str
    values: dict[str, str]


def _clean_rows(
    rows: list[contracts.MemberSetupRow], data: dict[int, dict[str, Any]]
) -> tuple[dict[int, _Cleaned], dict[int, str]]:
    """Each row's fields through ``user.prepare_first_run``'s rules (CPU work: in a thread)."""
    cleaned: dict[int, _Cleaned] = {}
    failed: dict[int, str] = {}
    for row in rows:
        fields = data.get(row.row_number)
        if fields is None:
            failed[row.row_number] = NO_ROW
            continue
        text = {k: v if isinstance(v, str) and v else None for k, v in fields.items()}
        try:
            email = normalize_email(text.get("email") or "")
            display, values = _cleaned(
                PrepareFirstRunInput(
                    tenant_id="",
                    user_id=row.user_id,
                    role=row.role,
                    email=email,
                    display_name=text.get("display_name"),
                    given_name=text.get("given_name"),
                    family_name=text.get("family_name"),
                    locale=text.get("locale"),
                    time_zone=text.get("time_zone"),
                )
            )
        except InvalidEmailError as error:
            failed[row.row_number] = str(error)[:500]
        except Exception as error:
            failed[row.row_number] = (getattr(error, "message", None) or str(error))[:500]
        else:
            cleaned[row.row_number] = _Cleaned(email, display, values)
    return cleaned, failed


class BulkImportUserActivities:
    def __init__(self, resources: Resources, mailer: Mailer | None = None) -> None:
        self.database = resources.database
        self.mailer = mailer or mailer_from_settings(resources.settings)

    @contracts.PREPARE_MEMBERS.implement
    async def bulk_prepare_members(
        self, input: contracts.PrepareMembersInput
    ) -> contracts.PrepareMembersOutput:
        context = require_flow_step(input.idempotency_key, FLOW)
        tenant_id = scope_of(context, input.tenant_id)
        operation_id = _uuid(input.operation_id, "operation id")
        _limit(input.rows)
        user_ids = {row.row_number: _uuid(row.user_id, "user id") for row in input.rows}
        for row in input.rows:
            if not 1 <= len(row.role) <= 50:
                raise business_error(UserError.INVALID_INPUT, "a role has 1-50 characters")
        async with transaction(self.database, tenant_id) as db:
            data = await store.rows_by_number(
                db, tenant_id, operation_id, [r.row_number for r in input.rows]
            )
            cleaned, failed = await asyncio.to_thread(_clean_rows, input.rows, data)
            existing = await store.first_runs_of(db, tenant_id, list(user_ids.values()))
            outcomes: dict[int, contracts.SetupOutcome] = {}
            todo: list[contracts.MemberSetupRow] = []
            for row in input.rows:
                number, user_id = row.row_number, user_ids[row.row_number]
                if number in failed:
                    outcomes[number] = contracts.SetupOutcome(number, error=failed[number])
                elif user_id in existing:
                    # Set up before: by this very row (a retry), or by an earlier onboarding.
                    mine = existing[user_id].idempotency_key == row_key(
                        input.idempotency_key, number
                    )
                    outcomes[number] = contracts.SetupOutcome(number, created=mine)
                else:
                    todo.append(row)
                    outcomes[number] = contracts.SetupOutcome(number, created=True)
            await self._set_up(db, tenant_id, todo, user_ids, cleaned, input.idempotency_key)
        return contracts.PrepareMembersOutput([outcomes[r.row_number] for r in input.rows])

    async def _set_up(
        self,
        db: DbSession,
        tenant_id: uuid.UUID,
        rows: list[contracts.MemberSetupRow],
        user_ids: dict[int, uuid.UUID],
        cleaned: dict[int, _Cleaned],
        batch_key: str,
    ) -> None:
        if not rows:
            return
        ids = [user_ids[r.row_number] for r in rows]
        made_profiles = await store.create_profiles(
            db,
            [
                store.NewProfile(
                    id=user_ids[r.row_number],
                    email=cleaned[r.row_number].email,
                    display_name=cleaned[r.row_number].display,
                    given_name=cleaned[r.row_number].values.get("given_name"),
                    family_name=cleaned[r.row_number].values.get("family_name"),
                    locale=cleaned[r.row_number].values.get("locale"),
                    time_zone=cleaned[r.row_number].values.get("time_zone"),
                    idempotency_key=row_key(batch_key, r.row_number),
                )
                for r in rows
            ],
        )
        # A new account (made by this batch) has no own preferences yet: those are written in
        # one pipelined round; a person who had an account is checked one statement each.
        own_values = json.dumps(defaults(Scope.USER))
        new = [user_ids[r.row_number] for r in rows if r.needs_password]
        had = [user_ids[r.row_number] for r in rows if not r.needs_password]
        await store.put_new_own_defaults(
            db, new, schema_version=CURRENT_VERSION, values_json=own_values
        )
        own = set(new) | await store.put_own_defaults(
            db, had, schema_version=CURRENT_VERSION, values_json=own_values
        )
        in_tenant = await store.put_tenant_defaults(
            db, tenant_id, ids, schema_version=CURRENT_VERSION, values=defaults(Scope.TENANT)
        )
        profiles = await store.profiles_of(db, ids)
        entries = await store.add_entries(
            db,
            tenant_id,
            [
                store.NewEntry(
                    user_id=p.id,
                    role=r.role,
                    display_name=p.display_name,
                    email=p.email,
                    name_text=name_text(p.display_name, p.given_name, p.family_name),
                )
                for r in rows
                if (p := profiles[user_ids[r.row_number]])
            ],
            DirectoryStatus.ACTIVE.value,
        )
        first_runs = []
        for r in rows:
            user_id = user_ids[r.row_number]
            checklist = checklist_of(profiles[user_id], password_set=not r.needs_password)
            first_runs.append(
                {
                    "user_id": user_id,
                    "checklist": [{"item": e.item, "done": e.done} for e in checklist],
                    "created": {
                        "profile": user_id in made_profiles,
                        "preferences": user_id in own,
                        "tenant_preferences": user_id in in_tenant,
                        "directory": user_id in entries,
                    },
                    "idempotency_key": row_key(batch_key, r.row_number),
                }
            )
        await store.add_first_runs(db, tenant_id, first_runs)

    @contracts.UNDO_MEMBERS.implement
    async def bulk_undo_members(
        self, input: contracts.UndoMembersInput
    ) -> contracts.UndoMembersOutput:
        """Per member, only what the batch's row created (``users.first_runs.created``, the
        row under one of the batch's keys); a member set up otherwise is left alone."""
        context = require_flow_step(input.prepared_key, FLOW)
        tenant_id = scope_of(context, input.tenant_id)
        _limit(input.user_ids)
        ids = [_uuid(raw, "user id") for raw in input.user_ids]
        removed = 0
        prefix = f"{input.prepared_key}:row:"
        async with transaction(self.database, tenant_id) as db:
            first_runs = await store.first_runs_of(db, tenant_id, ids)
            for user_id, row in first_runs.items():
                if not row.idempotency_key.startswith(prefix):
                    continue
                await store.set_actor(db, str(user_id))  # the own preferences' policy
                created = row.created
                if created.get("directory"):
                    await DirectoryRepository(db, tenant_id).remove(user_id)
                preferences = PreferencesRepository(db)
                if created.get("tenant_preferences"):
                    await preferences.remove(user_id, tenant_id)
                if created.get("preferences"):
                    await preferences.remove(user_id, None)
                profiles = ProfileRepository(db)
                if created.get("profile") and (
                    await profiles.idempotency_key(user_id) == row.idempotency_key
                ):
                    await profiles.delete(user_id)
                await FirstRunRepository(db, tenant_id).remove(user_id)
                removed += 1
        return contracts.UndoMembersOutput(removed=removed)

    @contracts.SEND_WELCOMES.implement
    async def bulk_send_welcome_mails(
        self, input: contracts.SendWelcomesInput
    ) -> contracts.SendWelcomesOutput:
        context = require_flow_step(input.idempotency_key, FLOW)
        tenant_id = scope_of(context, input.tenant_id)
        _limit(input.rows)
        ids = {row.row_number: _uuid(row.user_id, "user id") for row in input.rows}
        async with transaction(self.database, tenant_id) as db:
            first_runs = await store.first_runs_of(db, tenant_id, list(ids.values()))
            profiles = await store.profiles_of(db, list(ids.values()))

        async def mail(row: contracts.WelcomeRow) -> contracts.MailOutcome:
            number, user_id = row.row_number, ids[row.row_number]
            first_run, profile = first_runs.get(user_id), profiles.get(user_id)
            if first_run is None or profile is None:
                return contracts.MailOutcome(number, error=NO_SETUP)
            if first_run.welcome_sent_at is not None:
                return contracts.MailOutcome(number, sent=False)
            try:
                await self.mailer.send(
                    welcome_mail(
                        to=profile.email,
                        name=profile.given_name or profile.display_name,
                        tenant=input.tenant_name,
                        locale=profile.locale,
                        needs_password=row.needs_password,
                        key=row_key(input.idempotency_key, number),
                    )
                )
            except Exception as error:  # a refused mail fails its row alone
                return contracts.MailOutcome(number, error=f"{MAIL_FAILED}: {error}"[:500])
            return contracts.MailOutcome(number, sent=True)

        outcomes: dict[int, contracts.MailOutcome] = {}
        for start in range(0, len(input.rows), MARK_EVERY):
            chunk = input.rows[start : start + MARK_EVERY]
            # The chunk's mails at once (an SMTP server's round trips overlap).
            done = await asyncio.gather(*(mail(row) for row in chunk))
            outcomes |= {o.row_number: o for o in done}
            sent = [ids[o.row_number] for o in done if o.sent]
            # Recorded every MARK_EVERY mails: a retry mails these rows no more (a crash before
            # the mark sends at most those again, with the same Message-ID).
            async with transaction(self.database, tenant_id) as db:
                await store.mark_welcomed_many(db, tenant_id, sent, datetime.now(UTC))
        return contracts.SendWelcomesOutput([outcomes[r.row_number] for r in input.rows])

    def all(self) -> list[Callable[..., Any]]:
        return [self.bulk_prepare_members, self.bulk_undo_members, self.bulk_send_welcome_mails]
