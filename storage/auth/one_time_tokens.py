"""One-time tokens (e-mail verification, password reset): only SHA-256 hashes are stored, each
token belongs to the workflow that issued it and can be spent once, before it expires."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.dialects.postgresql import insert

from storage.auth.models import OneTimeToken
from storage.repository import Repository


class OneTimeTokenRepository(Repository[OneTimeToken]):
    model = OneTimeToken

    async def issue(
        self,
        *,
        user_id: uuid.UUID,
        purpose: str,
        token_hash: str,
        ttl: timedelta,
        workflow_id: str,
        idempotency_key: str,
    ) -> bool:
        """Store the token of one workflow step. A retried step replaces the hash of its own
        still-unused token: the earlier raw value never left the failed attempt, so the step
        never leaves two live tokens. False when the step's token was already spent."""
        statement = insert(OneTimeToken).values(
            user_id=user_id,
            purpose=purpose,
            token_hash=token_hash,
            expires_at=func.now() + ttl,
            workflow_id=workflow_id,
            idempotency_key=idempotency_key,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[OneTimeToken.idempotency_key],
            set_={
                "token_hash": statement.excluded.token_hash,
                "expires_at": statement.excluded.expires_at,
            },
            where=OneTimeToken.used_at.is_(None),
        )
        return await self.session.scalar(statement.returning(OneTimeToken.id)) is not None

    async def waiting_workflow(self, token_hash: str, purpose: str) -> str | None:
        """The workflow that would redeem this token, while it is unused and unexpired."""
        return await self.session.scalar(
            select(OneTimeToken.workflow_id).where(
                OneTimeToken.token_hash == token_hash,
                OneTimeToken.purpose == purpose,
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > func.now(),
            )
        )

    async def consume(self, token_hash: str, purpose: str, workflow_id: str) -> uuid.UUID | None:
        """Spend the token and return its user. One conditional UPDATE: of concurrent callers
        exactly one sees the row unused, so a token works once."""
        return await self.session.scalar(
            update(OneTimeToken)
            .where(
                OneTimeToken.token_hash == token_hash,
                OneTimeToken.purpose == purpose,
                OneTimeToken.workflow_id == workflow_id,
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > func.now(),
            )
            .values(used_at=func.now())
            .returning(OneTimeToken.user_id)
        )

    async def spent_by(self, token_hash: str, purpose: str, workflow_id: str) -> uuid.UUID | None:
        """The user of a token this workflow already spent (to recognise a retried consume)."""
        return await self.session.scalar(
            select(OneTimeToken.user_id).where(
                OneTimeToken.token_hash == token_hash,
                OneTimeToken.purpose == purpose,
                OneTimeToken.workflow_id == workflow_id,
                OneTimeToken.used_at.is_not(None),
            )
        )

    async def idempotency_key(self, token_hash: str, purpose: str) -> str | None:
        """The key of the step that issued the token (None: no such token)."""
        return await self.session.scalar(
            select(OneTimeToken.idempotency_key).where(
                OneTimeToken.token_hash == token_hash, OneTimeToken.purpose == purpose
            )
        )

    async def spent_by_run(
        self, user_id: uuid.UUID, purpose: str, workflow_id: str | None, key_prefix: str
    ) -> bool:
        """Whether a token of the user was issued under ``key_prefix`` (one run's steps) and
        redeemed by ``workflow_id``."""
        return bool(
            await self.session.scalar(
                select(
                    exists().where(
                        OneTimeToken.user_id == user_id,
                        OneTimeToken.purpose == purpose,
                        OneTimeToken.workflow_id == workflow_id,
                        OneTimeToken.idempotency_key.startswith(key_prefix, autoescape=True),
                        OneTimeToken.used_at.is_not(None),
                    )
                )
            )
        )
