"""HTTP conditional and range requests of a download (RFC 9110): the strong ``ETag`` of a file
version, ``If-None-Match``, and a single byte range (``bytes=a-b``, ``a-``, ``-n``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")


def etag(sha256: str, version: int) -> str:
    return f'"{sha256}.{version}"'


def not_modified(if_none_match: str | None, tag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {c.strip().removeprefix("W/") for c in if_none_match.split(",")}
    return "*" in candidates or tag in candidates


class Unsatisfiable(ValueError):
    """A syntactically valid range outside the file: 416."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    length: int

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.start + self.length - 1}/{size}"


def byte_range(header: str | None, size: int) -> ByteRange | None:
    """The one range asked for, or None for the whole file (no header, a malformed one or
    several ranges: RFC 9110 lets a server ignore those and answer 200)."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:  # the last n bytes
        suffix = int(last)
        if suffix == 0:
            raise Unsatisfiable(header)
        start = max(0, size - suffix)
        return ByteRange(start, size - start)
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None
    if start >= size:
        raise Unsatisfiable(header)
    return ByteRange(start, end - start + 1)
