"""``auth.sync_profile_claims`` (queue ``<prefix>-auth``), auth's step of the user service's
``user_profile_sync``: the profile's display name onto the credential, where access tokens read
it (``name``). Version-guarded: a retried or late delivery changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.auth.runtime import AuthRuntime
from services.common.security_context import require_flow_step
from storage.auth.profile_copies import copy_display_name
from storage.db import transaction
from workflows.auth.profile_copies_contracts import SYNC_PROFILE_CLAIMS
from workflows.user.contracts import UserWorkflow
from workflows.user.profile_sync_contracts import (
    ProfileCopyInput,
    ProfileCopyOutput,
    checked_copy,
)


class ProfileClaimsActivities:
    def __init__(self, runtime: AuthRuntime) -> None:
        self.database = runtime.resources.database

    @SYNC_PROFILE_CLAIMS.implement
    async def sync_profile_claims(self, input: ProfileCopyInput) -> ProfileCopyOutput:
        require_flow_step(input.idempotency_key, UserWorkflow.USER_PROFILE_SYNC)
        user_id = checked_copy(input)
        async with transaction(self.database) as db:
            changed = await copy_display_name(db, user_id, input.display_name, input.version)
        return ProfileCopyOutput(changed=changed)

    def all(self) -> list[Callable[..., Any]]:
        return [self.sync_profile_claims]
