"""An upload of a bulk operation read and checked (pure, CPU-bound: the routes run it in a thread):
CSV (a header row, then one user a row) or JSON (an array of objects with the same keys, or
``{"csv": text}``: how the gateway forwards a CSV given to ``bulkUserOperation``).

A file that is not one (invalid UTF-8, not CSV or JSON, unknown or missing columns, no rows, more
than ``MAX_ROWS``) is refused whole; a row that is malformed (wrong number of fields, a bad
address, id, role, name, locale or time zone, a duplicate) is kept as ``failed`` with the reason,
and the other rows run."""

from __future__ import annotations

import csv
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from email_validator import EmailNotValidError, validate_email

from storage.users.bulk_operations import FAILED, PENDING, NewRow
from workflows.tenant.permissions import ROLE_NAME
from workflows.user import rules
from workflows.user.bulk_contracts import MAX_ROWS, ON_MEMBERS, BulkKind

COLUMNS: Final = (
    "email",
    "user_id",
    "role",
    "display_name",
    "given_name",
    "family_name",
    "locale",
    "time_zone",
)
_CELL_MAX: Final = 400
_LINES: Final = re.compile(r"\r\n|\n|\r")
DEFAULT_ROLE: Final = "member"


class UploadRefused(ValueError):
    """The whole upload is refused (422, or 413 when ``too_large``); the message names why."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.too_large = too_large


@dataclass(frozen=True)
class ParsedUpload:
    rows: list[NewRow]

    @property
    def failed(self) -> int:
        return sum(1 for r in self.rows if r.status == FAILED)


def _email(raw: str) -> str:
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise rules.RuleViolation(f"email: {error}") from None


def _user_id(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise rules.RuleViolation("user_id: not a user id") from None


def _role(raw: str) -> str:
    if not ROLE_NAME.fullmatch(raw):
        raise rules.RuleViolation("role: not a role name")
    return raw


CLEAN: Final[dict[str, Callable[[str], str]]] = {
    "email": _email,
    "user_id": _user_id,
    "role": _role,
    "display_name": rules.clean_display_name,
    "given_name": rules.clean_given_name,
    "family_name": rules.clean_family_name,
    "locale": rules.clean_locale,
    "time_zone": rules.clean_time_zone,
}


def _required(kind: BulkKind) -> tuple[tuple[str, ...], ...]:
    """Column groups of which each upload must have one."""
    if kind in ON_MEMBERS:
        return (
            (("user_id", "email"), ("role",))
            if kind == BulkKind.CHANGE_ROLE
            else (("user_id", "email"),)
        )
    return (("email",),)


def _check_columns(kind: BulkKind, columns: list[str]) -> None:
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        shown = ", ".join(repr(c[:40]) for c in unknown[:5])
        raise UploadRefused(f"unknown columns {shown}; the columns are {', '.join(COLUMNS)}")
    if len(set(columns)) != len(columns):
        raise UploadRefused("a column is named twice")
    for group in _required(kind):
        if not set(group) & set(columns):
            raise UploadRefused(f"a {kind.value} needs the column {' or '.join(group)}")


def _clean_row(kind: BulkKind, raw: dict[str, Any]) -> dict[str, str]:
    data: dict[str, str] = {}
    for key, value in raw.items():
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise rules.RuleViolation(f"{key}: must be text")
        if len(value) > _CELL_MAX:
            raise rules.RuleViolation(f"{key}: longer than {_CELL_MAX} characters")
        data[key] = CLEAN[key](value.strip())
    for group in _required(kind):
        if not any(k in data for k in group):
            raise rules.RuleViolation(f"{' or '.join(group)}: missing")
    if kind in (BulkKind.IMPORT, BulkKind.INVITE):
        data.setdefault("role", DEFAULT_ROLE)
    return data


def _as_given(record: dict[str, Any]) -> dict[str, Any]:
    """What the report shows of a refused row: its address as given, if it is text."""
    email = record.get("email")
    return {"email": email[:320]} if isinstance(email, str) and email else {}


def _rows(kind: BulkKind, records: Iterator[tuple[int, dict[str, Any] | str]]) -> list[NewRow]:
    rows: list[NewRow] = []
    seen: dict[str, int] = {}
    for number, record in records:
        if number > MAX_ROWS:
            raise UploadRefused(f"more than {MAX_ROWS} rows", too_large=True)
        if isinstance(record, str):  # malformed before its fields could be read
            rows.append(NewRow(number, {}, FAILED, record))
            continue
        try:
            data = _clean_row(kind, record)
        except rules.RuleViolation as error:
            rows.append(NewRow(number, _as_given(record), FAILED, error.message[:500]))
            continue
        key = data.get("user_id") or data.get("email", "")
        if key in seen:
            rows.append(NewRow(number, data, FAILED, f"duplicate of row {seen[key]}"))
            continue
        seen[key] = number
        rows.append(NewRow(number, data, PENDING))
    if not rows:
        raise UploadRefused("the upload has no rows")
    return rows


def _csv_line(line: str) -> list[str]:
    return next(csv.reader([line], strict=True))


def _csv_records(kind: BulkKind, text: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """One record a line: a quoted field spanning lines is not a user's, and reading line by
    line keeps a broken quote from swallowing the rows after it."""
    lines = iter(_LINES.split(text))
    header_line = next((line for line in lines if line.strip()), None)
    if header_line is None:
        raise UploadRefused("the upload is empty")
    try:
        header = [c.strip().lower() for c in _csv_line(header_line)]
    except csv.Error as error:
        raise UploadRefused(f"the header row is not CSV: {error}") from None
    _check_columns(kind, header)
    number = 0
    for line in lines:
        if not line.strip():
            continue  # blank lines are not rows
        number += 1
        try:
            fields = _csv_line(line)
        except csv.Error as error:
            yield number, f"not a CSV row: {error}"
            continue
        if len(fields) != len(header):
            yield number, f"the row has {len(fields)} fields, the header {len(header)}"
        else:
            yield number, dict(zip(header, fields, strict=True))


def _json_records(kind: BulkKind, text: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise UploadRefused("the upload is not JSON") from None
    if isinstance(document, dict) and set(document) == {"csv"} and isinstance(document["csv"], str):
        yield from _csv_records(kind, document["csv"])  # a CSV sent as JSON (by the gateway)
        return
    if not isinstance(document, list):
        raise UploadRefused('a JSON upload is an array of row objects, or {"csv": text}')
    if len(document) > MAX_ROWS:
        raise UploadRefused(f"more than {MAX_ROWS} rows", too_large=True)
    keys = sorted({k for r in document if isinstance(r, dict) for k in r})
    _check_columns(kind, keys)
    for number, record in enumerate(document, start=1):
        if isinstance(record, dict):
            yield number, record
        else:
            yield number, "the row is not an object"


def parse_upload(kind: BulkKind, body: bytes, media_type: str) -> ParsedUpload:
    """The upload's rows, each ``pending`` or ``failed`` with why; ``UploadRefused`` for a file
    that cannot be read at all."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UploadRefused(f"the upload is not UTF-8 (byte {error.start})") from None
    if "\x00" in text:
        raise UploadRefused("the upload holds NUL characters")
    records = _json_records(kind, text) if media_type == "json" else _csv_records(kind, text)
    return ParsedUpload(_rows(kind, records))
