"""The file domain's rules, written once (pure Python, sandbox-safe): what a file name and a
folder may be, which detected types a tenant's policy allows, and which types a browser must
never render inline. The routes check them before any byte is stored and the ``file_upload``
run checks them again (a start that skips HTTP cannot get around them)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Final

#: Characters of a name, in code points (PostgreSQL ``VARCHAR(255)``).
MAX_NAME_LENGTH: Final = 255
MAX_FOLDER_LENGTH: Final = 1024
ROOT: Final = "/"
#: Names Windows (and so many a user's download folder) refuses.
_RESERVED: Final = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)
#: Types a browser would run or render as a page: always served as an attachment.
ACTIVE_TYPES: Final = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "text/ecmascript",
        "application/pdf",
        "application/x-shockwave-flash",
        "text/x-shellscript",
        "text/x-php",
        "application/wasm",
    }
)
#: Types served inline (anything else is an attachment as well).
INLINE_TYPES: Final = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "text/plain", "video/mp4", "audio/mpeg"}
)


class FileRuleViolation(ValueError):
    """A broken rule; the message is safe to show the caller (it never echoes the input)."""


def _unsafe_character(text: str) -> str | None:
    for char in text:
        if char == "\x00":
            return "a NUL character"
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            return "a control or invisible character"
    return None


def check_name(name: str) -> str:
    """A file name: 1-255 characters, no slash or backslash (no path), not ``.``/``..``, no
    control characters, no leading or trailing space or dot; NFC-normalised."""
    if not isinstance(name, str):
        raise FileRuleViolation("the name must be text")
    if len(name) > MAX_NAME_LENGTH * 4:
        raise FileRuleViolation(f"the name is longer than {MAX_NAME_LENGTH} characters")
    name = unicodedata.normalize("NFC", name)
    if not name:
        raise FileRuleViolation("the name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise FileRuleViolation(f"the name is longer than {MAX_NAME_LENGTH} characters")
    problem = _unsafe_character(name)
    if problem:
        raise FileRuleViolation(f"the name contains {problem}")
    if "/" in name or "\\" in name:
        raise FileRuleViolation("the name may not contain a slash (use the folder)")
    if name in (".", "..") or name != name.strip(" ."):
        raise FileRuleViolation("the name may not start or end with a space or a dot")
    if name.split(".")[0].lower() in _RESERVED:
        raise FileRuleViolation("the name is reserved on some systems")
    return name


def check_folder(folder: str) -> str:
    """A folder path: ``/`` or ``/a/b/`` (slashes added where missing), each segment a valid
    name; at most 1024 characters."""
    if not isinstance(folder, str):
        raise FileRuleViolation("the folder must be text")
    if len(folder) > MAX_FOLDER_LENGTH:
        raise FileRuleViolation(f"the folder is longer than {MAX_FOLDER_LENGTH} characters")
    segments = [s for s in unicodedata.normalize("NFC", folder).split("/")]
    inner = segments[1:-1] if len(segments) > 2 else [s for s in segments if s]
    if any(not s for s in inner):
        raise FileRuleViolation("the folder has an empty segment (//)")
    try:
        cleaned = [check_name(s) for s in inner]
    except FileRuleViolation as error:
        raise FileRuleViolation(f"a folder segment is invalid: {error}") from None
    path = ROOT + "".join(f"{s}/" for s in cleaned)
    if len(path) > MAX_FOLDER_LENGTH:
        raise FileRuleViolation(f"the folder is longer than {MAX_FOLDER_LENGTH} characters")
    return path


def type_allowed(content_type: str, allowed: Sequence[str] | None) -> bool:
    """``allowed``: exact types or ``family/*``; ``None`` allows any type."""
    if allowed is None:
        return True
    family = content_type.split("/", 1)[0]
    return content_type in allowed or f"{family}/*" in allowed


def served_inline(content_type: str) -> bool:
    """Whether a download may be shown in the browser (``inline``) rather than saved."""
    return content_type in INLINE_TYPES and content_type not in ACTIVE_TYPES
