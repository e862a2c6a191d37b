"""Who may change an account from an activity: the platform, the account's user, or (in the
anonymous flows) someone holding a proof: a workflow run that spent a one-time token it issued to
that user (mail links), an SSO sign-in to an account that has an SSO identity, or the run that
created the account (its compensation). The rules per activity: docs/security-context.md.

These rules let password reset, e-mail verification and SSO run without a signed-in user while
an anonymous context alone still cannot touch a password-only account's credentials or database."""

from __future__ import annotations

import uuid

from temporalio import activity

from services.auth.opaque import hash_token
from services.common.security_context import (
    ActorKind,
    SecurityContext,
    denied,
    require_context,
    this_run_prefix,
)
from storage.auth.one_time_tokens import OneTimeTokenRepository
from storage.auth.repository import CredentialRepository
from storage.auth.sso import SsoIdentityRepository
from storage.db import Database, DbSession, transaction


async def require_created_by_this_run(
    database: Database, context: SecurityContext, user_id: str
) -> None:
    """Outside ``system``, an account may be undone only by the workflow run that created it
    (its credentials carry that run's idempotency key). A missing account passes: there is
    nothing left to protect, and a retried compensation must succeed."""
    if context.actor != ActorKind.system and await created_by_this_run(database, user_id) is False:
        raise denied(f"the {context.actor.value} context may only undo an account this run created")


async def require_token_owner_address(
    database: Database, token: str | None, purpose: str, to: str
) -> None:
    """A link mail goes only to the address of the account whose token this run issued: a
    workflow cannot mail someone else's link, nor a link to someone else."""
    prefix = this_run_prefix()
    if token is None:
        raise denied("a link mail needs the token this run issued")
    async with transaction(database) as db:
        address = await CredentialRepository(db).address_of_token_owner(
            hash_token(token), purpose, prefix
        )
    if address is None or address != to:
        raise denied("this mail may only carry a token this run issued, to its account's address")


async def require_known_address(database: Database, to: str) -> None:
    """A notice goes only to an address that has an account (its owner is the one told)."""
    async with transaction(database) as db:
        if not await CredentialRepository(db).exists_with_email(to):
            raise denied("this notice goes only to the address of an existing account")


async def token_belongs_to_this_run(db: DbSession, token_hash: str, purpose: str) -> bool:
    """A token (if it exists at all) was issued by this very run of the workflow, not by an
    earlier run with the same workflow id."""
    key = await OneTimeTokenRepository(db).idempotency_key(token_hash, purpose)
    return key is None or key.startswith(this_run_prefix())


async def require_account_actor(database: Database, user_id: str, *, proof: str) -> SecurityContext:
    """Refuse (non-retryable) unless the context acts for ``user_id``, or this workflow run
    spent a ``proof`` token of that user (one it issued itself) before asking."""
    context = require_context()
    if context.acts_for(user_id):
        return context
    if await _spent_by_this_run(database, user_id, proof):
        return context
    raise denied(
        f"the {context.actor.value} context may change this account only after this workflow "
        f"redeemed the user's {proof} link"
    )


async def require_sso_session_actor(database: Database, user_id: str) -> SecurityContext:
    """Opening a session without a password: only for the platform, the user, or an account
    that signs in with SSO at all (the workflow checked the provider's ID token first)."""
    context = require_context()
    if context.acts_for(user_id) or await _has_sso_identity(database, user_id):
        return context
    raise denied(f"the {context.actor.value} context may not open a session for this account")


async def _has_sso_identity(database: Database, user_id: str) -> bool:
    try:
        owner = uuid.UUID(user_id)
    except ValueError:
        return False
    async with transaction(database) as db:
        return await SsoIdentityRepository(db).has_identity(owner)


async def created_by_this_run(database: Database, user_id: str) -> bool | None:
    """Whether this workflow run created the account (its credentials carry the run's key);
    None when there is no such account."""
    try:
        owner = uuid.UUID(user_id)
    except ValueError:
        return None
    async with transaction(database) as db:
        key = await CredentialRepository(db).idempotency_key(owner)
    return None if key is None else key.startswith(this_run_prefix())


async def _spent_by_this_run(database: Database, user_id: str, purpose: str) -> bool:
    """A spent token of the user, issued (the key) and redeemed (the workflow id) by this very
    run: an earlier run with the same workflow id proves nothing."""
    try:
        owner = uuid.UUID(user_id)
    except ValueError:
        return False
    async with transaction(database) as db:
        return await OneTimeTokenRepository(db).spent_by_run(
            owner, purpose, activity.info().workflow_id, this_run_prefix()
        )
