"""The user domain's profile rules, written once (pure Python, sandbox-safe).

The user service's request models (``services/user/schemas.py``) validate with them, and the user
workflows to come (onboarding, profile sync, bulk operations) check the same rules again on
their input. Each ``*_problem`` function answers why a value is refused (a message safe to show
the caller, naming the field) or None; each ``clean_*`` returns the normalised value or raises
:class:`RuleViolation` (a ``ValueError``, so pydantic turns it into a 422).

- names (display, given, family) and a title: NFC, stripped, bounded, no control, private-use,
  unassigned or bidirectional-override characters (:func:`clean_text`);
- locale: a BCP 47 tag of a known language, canonical case (``de-CH``, ``zh-Hant-TW``)
  (:func:`clean_locale`);
- time zone: an IANA name the system's tz database knows (:func:`clean_time_zone`);
- phone: E.164 (``+41446681800``), a number ``phonenumbers`` finds valid (:func:`clean_phone`);
- avatar: a file id (UUID) of the file service (:func:`clean_file_id`).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
import zoneinfo
from functools import lru_cache
from typing import Final

import phonenumbers

from workflows.user.contracts import UserError


class RuleViolation(ValueError):
    """A broken rule; ``error`` is the stable type, the message is safe to show the caller."""

    def __init__(self, message: str, error: UserError = UserError.INVALID_INPUT) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


# --- text ---------------------------------------------------------------------------------------

DISPLAY_NAME_MAX: Final = 200
NAME_MAX: Final = 100
TITLE_MAX: Final = 100
#: Unicode categories refused: controls, format characters (zero-width, bidi marks),
#: surrogates, unassigned, private use, line and paragraph separators.
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Cn", "Co", "Zl", "Zp"})
#: Format characters a name may hold: ZWJ and ZWNJ join letters in several scripts (and emoji).
_ALLOWED_FORMAT: Final = frozenset({"\u200c", "\u200d"})


def clean_text(value: str, field: str, maximum: int) -> str:
    """``value`` as NFC, stripped, inner runs of white space made one space; 1..``maximum``
    characters, nothing invisible that changes how the text around it reads."""
    normalised = unicodedata.normalize("NFC", value)
    if "\ufffd" in normalised:
        raise RuleViolation(f"{field} contains an undecodable character (U+FFFD)")
    for char in normalised:
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES and char not in _ALLOWED_FORMAT:
            raise RuleViolation(
                f"{field} contains an invisible or control character (U+{ord(char):04X})"
            )
    text = " ".join(normalised.split())
    if not text:
        raise RuleViolation(f"{field} cannot be empty")
    if len(text) > maximum:
        raise RuleViolation(f"{field} has at most {maximum} characters")
    return text


def clean_display_name(value: str) -> str:
    return clean_text(value, "display_name", DISPLAY_NAME_MAX)


def clean_given_name(value: str) -> str:
    return clean_text(value, "given_name", NAME_MAX)


def clean_family_name(value: str) -> str:
    return clean_text(value, "family_name", NAME_MAX)


def clean_title(value: str) -> str:
    return clean_text(value, "title", TITLE_MAX)


# --- locale -------------------------------------------------------------------------------------

LOCALE_MAX: Final = 35
#: ``language[-script][-region]`` with optional variants (RFC 5646, without extensions and
#: private use, which no client needs for a user's language).
LOCALE_PATTERN: Final = (
    r"^[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*$"
)
_LOCALE = re.compile(LOCALE_PATTERN)
#: ISO 639-1 languages, and the ISO 639-2/3 ones with no two-letter code that CLDR has locales for.
KNOWN_LANGUAGES: Final = frozenset(
    """
    aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy
    da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu
    hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb
    lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om
    or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw
    ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
    ast bas bem brx ccp ceb chr ckb dav dje doi dsb dua dyo ebu ewo fil fur gsw guz haw hsb jgo
    jmc kab kam kde kea kgp khq kkj kln kok ksb ksf ksh lag lkt lrc luo luy mai mas mer mfe mgh
    mgo mni mua mzn naq nds nmg nnh nus nyn pcm prg rof rwk sah saq sat sbp seh ses shi smn sms
    teo tzm vai vun wae xog yav yrl yue zgh
    """.split()
)


def _any_case(code: str) -> str:
    return "".join(f"[{c}{c.upper()}]" for c in code)


#: :data:`LOCALE_PATTERN` with the language one of :data:`KNOWN_LANGUAGES` (for the OpenAPI
#: document: what it describes is what is accepted).
KNOWN_LOCALE_PATTERN: Final = (
    "^(?:"
    + "|".join(_any_case(code) for code in sorted(KNOWN_LANGUAGES, key=lambda c: (-len(c), c)))
    + ")"
    + LOCALE_PATTERN[len("^[A-Za-z]{2,3}") :]
)


def locale_problem(value: str) -> str | None:
    if len(value) > LOCALE_MAX or not _LOCALE.fullmatch(value):
        return "locale is not a BCP 47 language tag (e.g. en, de-CH, zh-Hant-TW)"
    if value.split("-", 1)[0].lower() not in KNOWN_LANGUAGES:
        return f"locale names an unknown language {value.split('-', 1)[0]!r}"
    return None


def clean_locale(value: str) -> str:
    """The tag in canonical case: language lower, script title, region upper, variants lower."""
    problem = locale_problem(value)
    if problem is not None:
        raise RuleViolation(problem)
    parts = value.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif len(part) == 2 or (len(part) == 3 and part.isdigit()):
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


# --- time zone ----------------------------------------------------------------------------------

TIME_ZONE_MAX: Final = 64


@lru_cache(maxsize=1)
def known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def clean_time_zone(value: str) -> str:
    if len(value) > TIME_ZONE_MAX or value not in known_time_zones():
        raise RuleViolation("time_zone is not an IANA time zone name (e.g. Europe/Zurich)")
    return value


# --- phone --------------------------------------------------------------------------------------

#: ``+`` and up to 15 digits (E.164); the request models accept spaces, dots, dashes and
#: parentheses between them and store the plain form.
PHONE_MAX_INPUT: Final = 32
_PHONE_INPUT = re.compile(r"^\+[0-9 ().-]{4,30}$")


def clean_phone(value: str) -> str:
    """The number in E.164 (``+41446681800``) if it is a valid one, else a RuleViolation."""
    text = value.strip()
    if len(text) > PHONE_MAX_INPUT or not _PHONE_INPUT.fullmatch(text):
        raise RuleViolation("phone is an international number in E.164 form (e.g. +41446681800)")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise RuleViolation("phone is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise RuleViolation("phone is not a valid number for its country code")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- avatar -------------------------------------------------------------------------------------


def clean_file_id(value: str | uuid.UUID) -> uuid.UUID:
    """A file id of the file service (a UUID; whether the file exists is the file service's)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        raise RuleViolation("avatar_file_id is not a file id (a UUID)") from None
