"""Relay cursor connections, the one pagination style of the schema: ``first`` (1-100) and
``after`` (an opaque cursor from an earlier page's ``pageInfo.endCursor`` or an edge)."""

from __future__ import annotations

import strawberry

from schema.errors import BAD_USER_INPUT, UserFacingError

#: The largest page any connection serves (``first``), and the longest cursor accepted.
MAX_PAGE = 100
MAX_CURSOR = 200


@strawberry.type(description="Where a page of a connection ends, and whether another follows.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def check_first(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise UserFacingError(f"first must be 1-{MAX_PAGE}", BAD_USER_INPUT)
    return first
