"""Pure input rules of ``data_migration``, shared by the route, the GraphQL resolver and the
activities (a bad input fails before anything starts, and for good in an activity)."""

from __future__ import annotations

import uuid

from workflows.reconciliation.contracts import (
    MAX_BATCH,
    CompareOutput,
    Copy,
    Mode,
    ProfileDigest,
)


class ReconciliationInputError(ValueError):
    """An input the run can never accept (the message names the field)."""


def parse_id(raw: object, what: str) -> uuid.UUID:
    if not isinstance(raw, str) or len(raw) > 36:
        raise ReconciliationInputError(f"invalid {what}")
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ReconciliationInputError(f"invalid {what}") from None


def parse_bound(raw: object, what: str) -> uuid.UUID | None:
    """A keyset bound: "" (open) or a user id."""
    return None if raw == "" else parse_id(raw, what)


def checked_batch_size(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_BATCH:
        raise ReconciliationInputError(f"batch size is 1-{MAX_BATCH}")
    return value


def checked_mode(value: str) -> str:
    try:
        return Mode(value).value
    except ValueError:
        raise ReconciliationInputError(f"mode is one of {[m.value for m in Mode]}") from None


def checked_copies(values: list[str]) -> list[str]:
    known = {c.value for c in Copy}
    if len(values) > len(known) or any(v not in known for v in values):
        raise ReconciliationInputError(f"copies are among {sorted(known)}")
    return sorted(set(values), key=[c.value for c in Copy].index)


def drift_of(
    expected: dict[uuid.UUID, object], held: dict[uuid.UUID, object], *, version_at: int = -1
) -> CompareOutput:
    """What a copy holding ``held`` lacks, has in excess, or holds differently from the owner's
    ``expected`` over the same key range (ids sorted, so a report is stable). With
    ``version_at`` (the index of the version in tuple values), the stale rows holding the
    owner's own version are also named in ``same_version``."""
    stale = [u for u in sorted(expected.keys() & held.keys()) if expected[u] != held[u]]
    same = [
        u
        for u in stale
        if version_at >= 0
        and isinstance(expected[u], tuple)
        and isinstance(held[u], tuple)
        and expected[u][version_at] == held[u][version_at]  # type: ignore[index]
    ]
    return CompareOutput(
        checked=len(expected.keys() | held.keys()),
        missing=[str(u) for u in sorted(expected.keys() - held.keys())],
        extra=[str(u) for u in sorted(held.keys() - expected.keys())],
        stale=[str(u) for u in stale],
        same_version=[str(u) for u in same],
    )


def checked_profiles(profiles: list[ProfileDigest]) -> dict[uuid.UUID, ProfileDigest]:
    """The owner's profiles of a ``profile_names`` compare, by user id (at most a batch)."""
    if len(profiles) > MAX_BATCH:
        raise ReconciliationInputError(f"at most {MAX_BATCH} profiles")
    return {parse_id(p.user_id, "user id"): p for p in profiles}


def checked_user_ids(user_ids: list[str]) -> list[uuid.UUID]:
    if len(user_ids) > MAX_BATCH:
        raise ReconciliationInputError(f"at most {MAX_BATCH} user ids")
    return [parse_id(u, "user id") for u in user_ids]
