"""The profile-completion checklist: which items a member's profile has done. Stored by the
first run (``users.first_runs``); the profile items are read again from the profile each time, so
a completed name or time zone is ticked at once. Setting the password is auth's: it stays as
the set-up recorded it (done unless the account was created without one)."""

from __future__ import annotations

from storage.users.models import Profile
from workflows.user.first_run_contracts import ChecklistEntry, ChecklistItem


def checklist_of(profile: Profile, *, password_set: bool) -> list[ChecklistEntry]:
    done = {
        ChecklistItem.SET_PASSWORD: password_set,
        ChecklistItem.NAME: bool(profile.given_name and profile.family_name),
        ChecklistItem.LOCALE: profile.locale is not None,
        ChecklistItem.TIME_ZONE: profile.time_zone is not None,
        ChecklistItem.AVATAR: profile.avatar_file_id is not None,
    }
    return [ChecklistEntry(item.value, done[item]) for item in ChecklistItem]


def stored_password_set(stored: list[dict[str, object]]) -> bool:
    return any(
        e.get("item") == ChecklistItem.SET_PASSWORD.value and bool(e.get("done")) for e in stored
    )
