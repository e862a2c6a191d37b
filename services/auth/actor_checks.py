"""Who may change an account from an activity: the platform, the account's user, or (in the
anonymous flows) someone holding a proof: a workflow that spent a one-time token issued to that
user (mail links), or an SSO sign-in to an account that has an SSO identity.

These rules let password reset, e-mail verification and SSO run without a signed-in user while
an anonymous context alone still cannot touch a password-only account's credentials or sessions."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.common.security_context import SecurityContext, denied, require_context
from storage.auth.models import OneTimeToken, SsoIdentity
from storage.db import transaction


async def require_account_actor(
    sessions: async_sessionmaker[AsyncSession], user_id: str, *, proof: str
) -> SecurityContext:
    """Refuse (non-retryable) unless the context acts for ``user_id``, or this workflow spent a
    ``proof`` token of that user before asking."""
    context = require_context()
    if context.acts_for(user_id):
        return context
    if await _spent_by_this_workflow(sessions, user_id, proof):
        return context
    raise denied(
        f"the {context.actor.value} context may change this account only after this workflow "
        f"redeemed the user's {proof} link"
    )


async def require_sso_session_actor(
    sessions: async_sessionmaker[AsyncSession], user_id: str
) -> SecurityContext:
    """Opening a session without a password: only for the platform, the user, or an account
    that signs in with SSO at all (the workflow checked the provider's ID token first)."""
    context = require_context()
    if context.acts_for(user_id) or await _has_sso_identity(sessions, user_id):
        return context
    raise denied(f"the {context.actor.value} context may not open a session for this account")


async def _has_sso_identity(sessions: async_sessionmaker[AsyncSession], user_id: str) -> bool:
    try:
        owner = uuid.UUID(user_id)
    except ValueError:
        return False
    async with transaction(sessions) as db:
        return bool(await db.scalar(select(exists().where(SsoIdentity.user_id == owner))))


async def _spent_by_this_workflow(
    sessions: async_sessionmaker[AsyncSession], user_id: str, purpose: str
) -> bool:
    try:
        owner = uuid.UUID(user_id)
    except ValueError:
        return False
    async with transaction(sessions) as db:
        return bool(
            await db.scalar(
                select(
                    exists().where(
                        OneTimeToken.user_id == owner,
                        OneTimeToken.purpose == purpose,
                        OneTimeToken.workflow_id == activity.info().workflow_id,
                        OneTimeToken.used_at.is_not(None),
                    )
                )
            )
        )
