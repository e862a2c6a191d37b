"""docs/tenancy.md's permission table lists the whole catalogue, with the built-in roles' grants."""

from __future__ import annotations

from tests.support import ROOT
from workflows.tenant.permissions import BUILT_IN_ROLES, DESCRIPTIONS, BuiltInRole, Permission


def test_the_permission_table_lists_every_permission() -> None:
    text = (ROOT / "docs" / "tenancy.md").read_text()
    for permission in Permission:
        grants = " | ".join("yes" if permission in BUILT_IN_ROLES[r] else "" for r in BuiltInRole)
        row = f"| `{permission.value}` | {DESCRIPTIONS[permission]} | {grants} |"
        assert row.replace("|  |", "| |") in text.replace("|  |", "| |"), row
