"""The user service's GDPR activities (queue ``<prefix>-user``): profile, preferences,
directory entries and first-run rows exported, then erased."""

from __future__ import annotations

from workflows.common.compliance import (
    ErasePartInput,
    ErasePartOutput,
    ExportPartInput,
    ExportPartOutput,
)
from workflows.common.contracts import ActivityContract
from workflows.user.contracts import USER

EXPORT_USER_DATA = ActivityContract(
    "user.export_personal_data", USER, ExportPartInput, ExportPartOutput
)
ERASE_USER_DATA = ActivityContract(
    "user.erase_personal_data", USER, ErasePartInput, ErasePartOutput
)
