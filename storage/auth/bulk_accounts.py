"""The accounts of a bulk import's batch (``auth.bulk_ensure_accounts``): created without a
password in one statement, each under its own idempotency key, and read back by address; the
batch's claims; the set-password links' tokens of its new accounts (``auth.bulk_mail_password_links``)."""

from __future__ import annotations

import typing
import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import String, Table, cast, delete, func, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.auth.models import Credential, OneTimeToken, PrincipalClaims


async def create_missing_accounts(
    session: AsyncSession, accounts: Sequence[tuple[str, str]]
) -> list[uuid.UUID]:
    """``(email, idempotency_key)`` pairs (addresses normalised): an account without a password
    for each address nobody has yet; the ids of those created (a taken address or a key already
    used creates nothing)."""
    if not accounts:
        return []
    source = select(
        func.unnest(cast([uuid.uuid4() for _ in accounts], ARRAY(UUID(as_uuid=True)))).label("id"),
        func.unnest(cast([email for email, _ in accounts], ARRAY(String))).label("email"),
        func.unnest(cast([key for _, key in accounts], ARRAY(String))).label("key"),
    ).subquery()
    created = await session.execute(
        insert(Credential)
        .from_select(
            ["id", "email", "idempotency_key"], select(source.c.id, source.c.email, source.c.key)
        )
        .on_conflict_do_nothing()
        .returning(Credential.id)
    )
    return list(created.scalars())


async def accounts_by_email(
    session: AsyncSession, emails: Sequence[str]
) -> dict[str, tuple[uuid.UUID, str]]:
    """Each known address's account id and the key it was created under."""
    if not emails:
        return {}
    rows = await session.execute(
        select(Credential.email, Credential.id, Credential.idempotency_key).where(
            Credential.email.in_(list(emails))
        )
    )
    return {email: (id_, key) for email, id_, key in rows}


async def remove_batch_accounts(
    session: AsyncSession, user_ids: Sequence[uuid.UUID], batch_key: str
) -> list[uuid.UUID]:
    """The compensation of a batch: of ``user_ids``, the accounts created under ``batch_key``'s
    row keys that nobody has used yet (no password, address unverified) are deleted; their ids.
    An account that was there before the batch has another key and is never touched."""
    if not user_ids:
        return []
    removed = await session.execute(
        delete(Credential)
        .where(
            Credential.id.in_(list(user_ids)),
            Credential.idempotency_key.startswith(f"{batch_key}:row:", autoescape=True),
            Credential.password_hash.is_(None),
            Credential.email_verified.is_(False),
        )
        .returning(Credential.id)
    )
    return list(removed.scalars())


async def put_claims_many(
    session: AsyncSession, tenant_id: uuid.UUID, members: Sequence[tuple[uuid.UUID, str, list[str]]]
) -> None:
    """``(user_id, role, permissions)`` of a batch's new members in the tenant, one upsert (as
    ``ClaimsRepository.put``: syncing the same claims twice is harmless)."""
    if not members:
        return
    # One statement compiled once (cached) and sent with every row's parameters (executemany),
    # instead of a VALUES list of every row compiled per batch.
    table = typing.cast(Table, PrincipalClaims.__table__)
    statement = insert(table)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.user_id, table.c.tenant_id],
            set_={
                "roles": statement.excluded.roles,
                "permissions": statement.excluded.permissions,
                "updated_at": func.now(),
            },
        ),
        [
            {"user_id": user_id, "tenant_id": tenant_id, "roles": [role], "permissions": perms}
            for user_id, role, perms in members
        ],
    )


async def remove_claims_many(
    session: AsyncSession, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> int:
    """The compensation of ``put_claims_many``: the members' claims in the tenant deleted (as
    ``ClaimsRepository.remove``: no role, no permission there); how many were."""
    if not user_ids:
        return 0
    removed = await session.execute(
        delete(PrincipalClaims)
        .where(PrincipalClaims.tenant_id == tenant_id, PrincipalClaims.user_id.in_(list(user_ids)))
        .returning(PrincipalClaims.user_id)
    )
    return len(list(removed.scalars()))


async def new_accounts_of(
    session: AsyncSession, user_ids: Sequence[uuid.UUID], batch_key: str
) -> dict[uuid.UUID, str]:
    """Of ``user_ids``, the accounts created under ``batch_key``'s row keys that still have no
    password: their addresses (who a bulk import's set-password link goes to)."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(Credential.id, Credential.email).where(
            Credential.id.in_(list(user_ids)),
            Credential.idempotency_key.startswith(f"{batch_key}:row:", autoescape=True),
            Credential.password_hash.is_(None),
        )
    )
    return {user_id: email for user_id, email in rows}


async def issue_tokens_many(
    session: AsyncSession,
    tokens: Sequence[tuple[uuid.UUID, str, str]],
    *,
    purpose: str,
    ttl: timedelta,
    workflow_id: str,
) -> set[str]:
    """``(user_id, token_hash, idempotency_key)`` one-time tokens stored in one statement (as
    ``OneTimeTokenRepository.issue``: a retried step replaces its own unspent token, never a
    spent one); the keys whose token is now the given hash."""
    if not tokens:
        return set()
    statement = insert(OneTimeToken).values(
        [
            {
                "user_id": user_id,
                "purpose": purpose,
                "token_hash": token_hash,
                "expires_at": func.now() + ttl,
                "workflow_id": workflow_id,
                "idempotency_key": key,
            }
            for user_id, token_hash, key in tokens
        ]
    )
    issued = await session.scalars(
        statement.on_conflict_do_update(
            index_elements=[OneTimeToken.idempotency_key],
            set_={
                "token_hash": statement.excluded.token_hash,
                "expires_at": statement.excluded.expires_at,
            },
            where=OneTimeToken.used_at.is_(None),
        ).returning(OneTimeToken.idempotency_key)
    )
    return set(issued)
