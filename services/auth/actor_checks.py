"""Who may change an account from an activity: the platform, the account's user, or (in the
anonymous flows) someone holding a proof: a workflow run that spent a one-time token it issued to
that user (mail links), an SSO sign-in to an account that has an SSO identity, or the run that
created the account (its compensation). The rules per activity: docs/security-context.md.

These rules let password reset, e-mail verification and SSO run without a signed-in user while
an anonymous context alone still cannot touch a password-only account's credentials or sessions."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.auth.opaque import hash_token
from services.common.security_context import (
    ActorKind,
    SecurityContext,
    denied,
    require_context,
    this_run_prefix,
)
from storage.auth.models import Credential, OneTimeToken, SsoIdentity
from storage.db import transaction


async def require_created_by_this_run(
    sessions: async_sessionmaker[AsyncSession], context: SecurityContext, user_id: str
) -> None:
    """Outside ``system``, an account may be undone only by the workflow run that created it
    (its credentials carry that run's idempotency key). A missing account passes: there is
    nothing left to protect, and a retried compensation must succeed."""
    if context.actor != ActorKind.system and await created_by_this_run(sessions, user_id) is False:
        raise denied(f"the {context.actor.value} context may only undo an account this run created")


async def require_token_owner_address(
    sessions: async_sessionmaker[AsyncSession], token: str | None, purpose: str, to: str
) -> None:
    """A link mail goes only to the address of the account whose token this run issued: a
    workflow cannot mail someone else's link, nor a link to someone else."""
    prefix = this_run_prefix()
    if token is None:
        raise denied("a link mail needs the token this run issued")
    async with transaction(sessions) as db:
        address = await db.scalar(
            select(Credential.email)
            .join(OneTimeToken, OneTimeToken.user_id == Credential.id)
            .where(
                OneTimeToken.token_hash == hash_token(token),
                OneTimeToken.purpose == purpose,
                OneTimeToken.idempotency_key.startswith(prefix, autoescape=True),
            )
        )
    if address is None or address != to:
        raise denied("this mail may only carry a token this run issued, to its account's address")


async def require_known_address(sessions: async_sessionmaker[AsyncSession], to: str) -> None:
    """A notice goes only to an address that has an account (its owner is the one told)."""
    async with transaction(sessions) as db:
        if not await db.scalar(select(exists().where(Credential.email == to))):
            raise denied("this notice goes only to the address of an existing account")


async def token_belongs_to_this_run(db: AsyncSession, token_hash: str, purpose: str) -> bool:
    """A token (if it exists at all) was issued by this very run of the workflow, not by an
    earlier run with the same workflow id."""
    key = await db.scalar(
        select(OneTimeToken.idempotency_key).where(
            OneTimeToken.token_hash == token_hash, OneTimeToken.purpose == purpose
        )
    )
    return key is None or key.startswith(this_run_prefix())


async def require_account_actor(
    sessions: async_sessionmaker[AsyncSession], user_id: str, *, proof: str
) -> SecurityContext:
    """Refuse (non-retryable) unless the context acts for ``user_id``, or this workflow run
    spent a ``proof`` token of that user (one it issued itself) before asking."""
    context = require_context()
    if context.acts_for(user_id):
        return context
    if await _spent_by_this_run(sessions, user_id, proof):
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


async def created_by_this_run(
    sessions: async_sessionmaker[AsyncSession], user_id: str
) -> bool | None:
    """Whether this workflow run created the account (its credentials carry the run's key);
    None when there is no such account."""
    try:
        owner = uuid.UUID(user_id)
    except ValueError:
        return None
    async with transaction(sessions) as db:
        key = await db.scalar(select(Credential.idempotency_key).where(Credential.id == owner))
    return None if key is None else key.startswith(this_run_prefix())


async def _spent_by_this_run(
    sessions: async_sessionmaker[AsyncSession], user_id: str, purpose: str
) -> bool:
    """A spent token of the user, issued (the key) and redeemed (the workflow id) by this very
    run: an earlier run with the same workflow id proves nothing."""
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
                        OneTimeToken.idempotency_key.startswith(this_run_prefix(), autoescape=True),
                        OneTimeToken.used_at.is_not(None),
                    )
                )
            )
        )
