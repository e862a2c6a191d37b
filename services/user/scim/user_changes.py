"""What a SCIM write of a User asks for, against the resource as it is: the profile fields that
change (validated by the profile's own rules, ``UpdateProfileRequest``) and ``active``.

The address (``userName``, ``emails``) is the account's, auth's sign-in address, verified by
its owner: SCIM cannot change it (400 ``mutability``), only repeat it. ``externalId`` and the
attributes the platform keeps no field for (``nickName``, ``addresses``, ...) are SCIM's record
of the member (``extras.py``), changed when they differ."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Final

from email_validator import EmailNotValidError, validate_email
from pydantic import ValidationError
from scim2_models import User

from services.user.schemas import UpdateProfileRequest
from services.user.scim.errors import ScimError, invalid_value, mutability
from services.user.scim.extras import attributes_of, external_id_of

#: Profile column -> the SCIM attribute it is read from (for the messages).
SCIM_NAMES: Final = {
    "display_name": "displayName",
    "given_name": "name.givenName",
    "family_name": "name.familyName",
    "title": "title",
    "locale": "locale",
    "time_zone": "timezone",
    "phone": "phoneNumbers.value",
}


@dataclass(frozen=True)
class ScimRecord:
    """What ``users.scim_users`` keeps of a member: ``externalId`` and the other attributes."""

    external_id: str | None
    attributes: dict[str, Any]


def scim_record(user: User) -> ScimRecord:
    """``user``'s record, bounded (``extras.py``: a 400 past a bound)."""
    return ScimRecord(external_id_of(user), attributes_of(user))


@dataclass
class UserChange:
    #: Profile columns to set (a validated ``UpdateProfileRequest``'s changes).
    profile: dict[str, Any] = field(default_factory=dict)
    #: The wanted ``active``, when it differs from the current one.
    active: bool | None = None
    #: SCIM's record of the member, when it differs from the one kept.
    record: ScimRecord | None = None


def _phone(user: User) -> str | None:
    numbers = user.phone_numbers or []
    chosen = next((n for n in numbers if n.primary), numbers[0] if numbers else None)
    return chosen.value if chosen is not None else None


def profile_fields(user: User) -> dict[str, Any]:
    """The profile columns a User states (None: none given, for the optional ones)."""
    return {
        "display_name": user.display_name,
        "given_name": user.name.given_name if user.name else None,
        "family_name": user.name.family_name if user.name else None,
        "title": user.title,
        "locale": user.locale,
        "time_zone": user.timezone,
        "phone": _phone(user),
    }


def checked_profile(changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` through the profile's rules; a refused value is a SCIM 400 naming the
    attribute (not the value)."""
    try:
        return UpdateProfileRequest(**changes).changes()
    except ValidationError as error:
        first = error.errors()[0]
        column = str(first.get("loc", ("",))[0]) if first.get("loc") else ""
        name = SCIM_NAMES.get(column, column or "the profile")
        message = str(first.get("msg", "invalid"))[:200]
        raise invalid_value(f"{name}: {message}") from None


def addresses(user: User) -> set[str]:
    found = {(e.value or "").lower() for e in user.emails or [] if e.value}
    if user.user_name and "@" in user.user_name:
        found.add(user.user_name.lower())
    return found


def sign_in_address(user: User) -> str:
    """The address a new account signs in with: the primary (else the first) of ``emails``,
    else ``userName`` when it is one; normalised as auth stores it."""
    emails = user.emails or []
    chosen = next((e for e in emails if e.primary and e.value), None)
    chosen = chosen or next((e for e in emails if e.value), None)
    raw = chosen.value if chosen is not None else user.user_name
    if not raw:
        raise invalid_value("emails: a user needs an e-mail address (emails or userName)")
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        name = "emails.value" if chosen is not None else "userName"
        raise invalid_value(f"{name}: not a valid e-mail address") from None


def user_change(current: User, wanted: User) -> UserChange:
    """The change from ``current`` to ``wanted`` (a PUT's body, or ``current`` patched)."""
    if (wanted.user_name or "").lower() != (current.user_name or "").lower():
        raise mutability("userName is the account's sign-in address: SCIM cannot change it")
    if wanted.emails is not None and not addresses(wanted) <= addresses(current):
        raise mutability("emails: the address is the account's (auth's): SCIM cannot change it")
    before, after = profile_fields(current), profile_fields(wanted)
    changed = {name: value for name, value in after.items() if value != before[name]}
    if "display_name" in changed and changed["display_name"] is None:
        del changed["display_name"]  # a display name stays; clearing it keeps the one there is
    change = UserChange(profile=checked_profile(changed) if changed else {})
    if wanted.active is not None and wanted.active != current.active:
        change.active = wanted.active
    record = scim_record(wanted)
    if record != scim_record(current):
        change.record = record
    return change


def refuse_owner_change(target_role: str, issuer_roles: Collection[str]) -> None:
    if target_role == "owner" and "owner" not in issuer_roles:
        raise ScimError(403, "only an owner's token changes an owner")
