"""The tenant domain's input and membership rules, written once (pure Python, sandbox-safe).

The tenant service's request models (``services/tenant/schemas.py``) validate with them and the
workflows (provisioning, membership changes) check the same rules again on their input, so a
start that skips HTTP cannot get around them.

- **Input**: a tenant's slug (:func:`slug_problem`), its name (:func:`clean_name`), its settings
  (:func:`settings_problem`), an e-mail domain (:func:`normalise_domain`).
- **Membership**: the last owner cannot leave, be removed or be demoted
  (:func:`check_role_change`, :func:`check_removal`); nobody grants a permission they do not
  hold (:func:`check_grant`); only owners transfer ownership or delete the tenant
  (:func:`check_owner_only`). A broken rule raises :class:`RuleViolation` carrying the stable
  :class:`~workflows.tenant.contracts.TenantError` type, which the HTTP layer maps to problem+json
  (``services/tenant/errors.py``) and a workflow raises as its ``ApplicationError`` type.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Any, Final

import idna

from workflows.tenant.contracts import TenantError
from workflows.tenant.permissions import BuiltInRole, Permission, can_grant

# --- errors -------------------------------------------------------------------------------------


class RuleViolation(ValueError):
    """A broken rule; ``error`` is the stable type, the message is safe to show the caller."""

    def __init__(self, error: TenantError, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


# --- slug ---------------------------------------------------------------------------------------

SLUG_MIN: Final = 3
SLUG_MAX: Final = 63
#: Lower-case letters and digits in words joined by single hyphens (no leading or trailing one).
SLUG_PATTERN: Final = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_SLUG = re.compile(SLUG_PATTERN)
#: Names that would collide with the platform's own hosts, paths or staff accounts.
RESERVED_SLUGS: Final = frozenset(
    {
        "admin",
        "administrator",
        "adx",
        "api",
        "app",
        "apps",
        "auth",
        "billing",
        "dashboard",
        "docs",
        "graphql",
        "graphiql",
        "help",
        "login",
        "mail",
        "root",
        "signup",
        "static",
        "status",
        "support",
        "system",
        "tenant",
        "tenants",
        "www",
    }
)


def slug_problem(slug: str) -> str | None:
    """Why ``slug`` cannot name a tenant, or None when it can."""
    if not SLUG_MIN <= len(slug) <= SLUG_MAX:
        return f"a slug has {SLUG_MIN} to {SLUG_MAX} characters"
    if not _SLUG.fullmatch(slug):
        return (
            "a slug is lower-case letters, digits and single hyphens, "
            "not starting or ending with a hyphen"
        )
    if slug in RESERVED_SLUGS:
        return f"the slug {slug!r} is reserved"
    return None


def check_slug(slug: str) -> str:
    problem = slug_problem(slug)
    if problem is not None:
        raise RuleViolation(TenantError.INVALID_INPUT, problem)
    return slug


# --- name ---------------------------------------------------------------------------------------

NAME_MAX: Final = 200
#: Unicode categories refused in a name: controls, surrogates, unassigned, line/paragraph breaks.
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cs", "Cn", "Co", "Zl", "Zp"})
#: Bidirectional overrides and isolates (a name that reorders the text shown after it).
_BIDI_CONTROLS: Final = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))


def clean_name(value: str) -> str:
    """A tenant's (or role's) display name: NFC, stripped, 1-200 characters, nothing invisible
    that changes how text around it reads. ValueError (a :class:`RuleViolation`) otherwise."""
    name = unicodedata.normalize("NFC", value).strip()
    if not name:
        raise RuleViolation(TenantError.INVALID_INPUT, "a name cannot be empty")
    if len(name) > NAME_MAX:
        raise RuleViolation(TenantError.INVALID_INPUT, f"a name has at most {NAME_MAX} characters")
    for char in name:
        if char in _BIDI_CONTROLS or unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise RuleViolation(
                TenantError.INVALID_INPUT, "a name cannot contain control or invisible characters"
            )
    return name


# --- settings -----------------------------------------------------------------------------------

SETTINGS_MAX_BYTES: Final = 16 * 1024
SETTINGS_MAX_DEPTH: Final = 5
SETTINGS_MAX_KEY: Final = 100


def settings_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a tenant's settings (a JSON object, at most 16 KiB encoded and 5
    levels deep, keys of at most 100 characters), or None. Iterative: no recursion on input."""
    if not isinstance(value, dict):
        return "settings are a JSON object"
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > SETTINGS_MAX_DEPTH:
                return f"settings nest at most {SETTINGS_MAX_DEPTH} levels deep"
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str) or len(key) > SETTINGS_MAX_KEY:
                        return f"a settings key has at most {SETTINGS_MAX_KEY} characters"
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, float) and item != item:  # NaN cannot be stored as JSON
            return "settings hold JSON values only"
        elif item is not None and not isinstance(item, str | int | float | bool):
            return "settings hold JSON values only"
    try:
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False).encode()
    except (ValueError, UnicodeEncodeError):
        return "settings hold JSON text only"
    if "\x00" in encoded.decode() or len(encoded) > SETTINGS_MAX_BYTES:
        return f"settings are at most {SETTINGS_MAX_BYTES} bytes of JSON without NUL characters"
    return None


# --- domains ------------------------------------------------------------------------------------

DOMAIN_MAX: Final = 253
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise_domain(value: str) -> str:
    """An e-mail domain as stored: lower-case ASCII (IDNA 2008 A-labels, after UTS 46 mapping),
    no trailing dot, at least two labels, the last not all digits. ``RuleViolation`` otherwise.
    (``idna`` comes with ``email-validator``.)"""
    text = value.strip().removesuffix(".")
    if not text or len(text) > 4 * DOMAIN_MAX:
        raise RuleViolation(TenantError.INVALID_INPUT, "not a valid domain name")
    try:
        ascii_form = idna.encode(text, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError):
        raise RuleViolation(TenantError.INVALID_INPUT, "not a valid domain name") from None
    labels = ascii_form.split(".")
    if (
        len(ascii_form) > DOMAIN_MAX
        or len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise RuleViolation(TenantError.INVALID_INPUT, "not a valid domain name")
    return ascii_form


# --- membership ---------------------------------------------------------------------------------

OWNER: Final = BuiltInRole.OWNER.value


def check_role_change(current_role: str, new_role: str, active_owners: int) -> None:
    """The last owner cannot be demoted (``active_owners`` counts the tenant's active owners,
    the member whose role changes included)."""
    if current_role == OWNER and new_role != OWNER and active_owners <= 1:
        raise RuleViolation(
            TenantError.LAST_OWNER, "the last owner cannot be demoted; make someone else owner"
        )


def check_removal(member_role: str, active_owners: int) -> None:
    """The last owner cannot leave or be removed."""
    if member_role == OWNER and active_owners <= 1:
        raise RuleViolation(
            TenantError.LAST_OWNER,
            "the last owner cannot leave or be removed; transfer ownership first",
        )


def check_grant(granter: frozenset[Permission], granted: Iterable[Permission]) -> None:
    """Nobody grants (through a role, an invitation or a role change) a permission they lack."""
    missing = sorted(set(granted) - granter)
    if not can_grant(granter, granted):
        raise RuleViolation(
            TenantError.GRANT_EXCEEDS_OWN,
            "you cannot grant permissions you do not hold: " + ", ".join(missing),
        )


def check_role_assignment(actor_role: str, new_role: str) -> None:
    """Only an owner makes someone an owner (that is a transfer of ownership)."""
    if new_role == OWNER and actor_role != OWNER:
        raise RuleViolation(TenantError.OWNER_REQUIRED, "only an owner can make someone an owner")


def check_owner_only(actor_role: str, what: str) -> None:
    """Only owners transfer ownership or delete the tenant (``what`` names the act)."""
    if actor_role != OWNER:
        raise RuleViolation(TenantError.OWNER_REQUIRED, f"only an owner can {what}")
