"""Activity contracts of ``user_first_run`` (workflows/user/first_run.py), the user service's
part of ``user_onboarding``: the profile created or completed, default preferences, the
profile-completion checklist and the tenant's directory entry in one step; the welcome mail in
the person's locale; the compensation removing exactly what the step created."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from workflows.common.contracts import ActivityContract
from workflows.user.contracts import USER

#: The workflow's type name: ``OnboardingWorkflow.USER_FIRST_RUN`` (workflows/onboarding/
#: contracts.py imports nothing of ours, so every caller can import it; the user package stays
#: below the onboarding package, which runs this as its child).
USER_FIRST_RUN: Final = "user_first_run"


class ChecklistItem(StrEnum):
    """The profile-completion checklist, in display order (stable: stored and answered)."""

    SET_PASSWORD = "set_password"  # noqa: S105 - an item name
    NAME = "name"
    LOCALE = "locale"
    TIME_ZONE = "time_zone"
    AVATAR = "avatar"


@dataclass
class ChecklistEntry:
    """One item of the checklist (``ChecklistItem``) and whether it is done."""

    item: str
    done: bool


@dataclass
class UserFirstRunInput:
    tenant_id: str
    user_id: str
    role: str
    #: Personal data from here on: the payload codec encrypts it.
    email: str
    tenant_name: str = ""
    display_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    locale: str | None = None
    time_zone: str | None = None
    #: The account was just created without a password (the checklist and mail say so).
    needs_password: bool = False
    send_welcome: bool = True


@dataclass
class UserFirstRunResult:
    #: False: the member had been set up in this tenant already (nothing changed).
    created: bool
    profile_created: bool = False
    welcome_sent: bool = False
    checklist: list[ChecklistEntry] = field(default_factory=list)


@dataclass
class PrepareFirstRunInput:
    tenant_id: str
    user_id: str
    role: str
    #: Personal data (encrypted by the payload codec); the profile's address when it is new.
    email: str
    display_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    locale: str | None = None
    time_zone: str | None = None
    #: The account was just created without a password (the checklist asks to set one).
    needs_password: bool = False
    idempotency_key: str = ""


@dataclass
class PrepareFirstRunOutput:
    #: False when the member had a first-run set-up in this tenant already (nothing written).
    created: bool
    profile_created: bool = False
    checklist: list[ChecklistEntry] = field(default_factory=list)


PREPARE_FIRST_RUN = ActivityContract(
    "user.prepare_first_run", USER, PrepareFirstRunInput, PrepareFirstRunOutput
)


@dataclass
class SendWelcomeMailInput:
    tenant_id: str
    user_id: str
    tenant_name: str
    #: The mail says a separate link sets the password.
    needs_password: bool = False
    idempotency_key: str = ""


@dataclass
class SendWelcomeMailOutput:
    #: False when this member's welcome had been sent already.
    sent: bool
    #: The locale the mail was written in.
    locale: str = "en"


SEND_WELCOME_MAIL = ActivityContract(
    "user.send_welcome_mail", USER, SendWelcomeMailInput, SendWelcomeMailOutput
)


@dataclass
class UndoFirstRunInput:
    tenant_id: str
    user_id: str
    #: The key ``user.prepare_first_run`` ran under: only what it created goes.
    prepared_key: str


@dataclass
class UndoFirstRunOutput:
    removed: list[str] = field(default_factory=list)


UNDO_FIRST_RUN = ActivityContract(
    "user.undo_first_run", USER, UndoFirstRunInput, UndoFirstRunOutput
)
