"""``file.sync_owner_name`` (queue ``<prefix>-file``), the file step of the user service's
``user_profile_sync``.

The files table keeps its owner's id (``files.owner_id``), not their name, so the file service
holds no copy of profile data: the step checks its input and who runs it, changes nothing and
answers ``kept=False`` ("no copy"). Idempotent by nature. When files get an owner-name column,
this is where it is written, guarded by the profile version as the other copies are
(``... WHERE owner_profile_version < :version``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.common.resources import Resources
from services.common.security_context import require_flow_step
from workflows.file.owner_contracts import SYNC_OWNER_NAME
from workflows.user.contracts import UserWorkflow
from workflows.user.profile_sync_contracts import (
    ProfileCopyInput,
    ProfileCopyOutput,
    checked_copy,
)


class OwnerNameActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    @SYNC_OWNER_NAME.implement
    async def sync_owner_name(self, input: ProfileCopyInput) -> ProfileCopyOutput:
        require_flow_step(input.idempotency_key, UserWorkflow.USER_PROFILE_SYNC)
        checked_copy(input)
        return ProfileCopyOutput(changed=0, kept=False)

    def all(self) -> list[Callable[..., Any]]:
        return [self.sync_owner_name]
