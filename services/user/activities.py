"""User activities (task queue ``<prefix>-user``); each write is idempotent on its key."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from services.common.resources import Resources
from services.common.security_context import (
    ActorKind,
    denied,
    require_context,
    require_flow,
    require_run_scoped,
    this_run_prefix,
)
from storage.db import transaction
from storage.users.repository import ProfileRepository
from workflows.auth.contracts import AuthWorkflow
from workflows.common.errors import business_error
from workflows.user import contracts
from workflows.user.contracts import UserError

#: The flows that create an account, and with it its profile (under their run's key).
SIGN_UP_FLOWS = (AuthWorkflow.USER_REGISTRATION, AuthWorkflow.SSO_AUTHENTICATION)


class UserActivities:
    def __init__(self, resources: Resources) -> None:
        self.database = resources.database

    @contracts.CREATE_PROFILE.implement
    async def create_profile(
        self, input: contracts.CreateProfileInput
    ) -> contracts.CreateProfileOutput:
        context = require_context()
        if not context.acts_for(input.user_id):
            require_flow(context, *SIGN_UP_FLOWS)
            require_run_scoped(context, input.idempotency_key)
        display_name = input.display_name.strip()
        if not 1 <= len(display_name) <= 200:
            raise business_error(UserError.INVALID_INPUT, "display name must be 1-200 characters")
        async with transaction(self.database) as session:
            created = await ProfileRepository(session).create(
                id_=uuid.UUID(input.user_id),
                email=input.email.strip().lower(),
                display_name=display_name,
                idempotency_key=input.idempotency_key,
            )
        return contracts.CreateProfileOutput(user_id=input.user_id, created=created)

    @contracts.DELETE_PROFILE.implement
    async def delete_profile(
        self, input: contracts.DeleteProfileInput
    ) -> contracts.DeleteProfileOutput:
        """Compensation of ``create_profile``; idempotent because deleting twice changes nothing."""
        context = require_context()
        async with transaction(self.database) as session:
            key = await ProfileRepository(session).idempotency_key(uuid.UUID(input.user_id))
            if context.actor != ActorKind.system and key and not key.startswith(this_run_prefix()):
                raise denied(
                    f"the {context.actor.value} context may only undo a profile this run created"
                )
            deleted = await ProfileRepository(session).delete(uuid.UUID(input.user_id))
        return contracts.DeleteProfileOutput(deleted=deleted)

    def all(self) -> list[Callable[..., Any]]:
        return [self.create_profile, self.delete_profile]
