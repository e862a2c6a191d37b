"""Credential repository: idempotent creation keyed by the workflow step."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from storage.auth.models import Credential
from storage.repository import Repository


@dataclass(frozen=True)
class CreateOutcome:
    created: bool
    conflict: bool


class CredentialRepository(Repository[Credential]):
    model = Credential

    async def create(
        self, *, id_: uuid.UUID, email: str, password_hash: str, idempotency_key: str
    ) -> CreateOutcome:
        """Insert once. A repeat with the same key is a no-op; another owner of the e-mail is a
        conflict the caller reports."""
        inserted = await self.session.scalar(
            insert(Credential)
            .values(
                id=id_, email=email, password_hash=password_hash, idempotency_key=idempotency_key
            )
            .on_conflict_do_nothing()
            .returning(Credential.id)
        )
        if inserted is not None:
            return CreateOutcome(created=True, conflict=False)
        existing = await self.session.scalar(
            select(Credential.idempotency_key).where(Credential.email == email)
        )
        return CreateOutcome(created=False, conflict=existing != idempotency_key)

    async def get_by_email(self, email: str) -> Credential | None:
        return await self.session.scalar(select(Credential).where(Credential.email == email))

    async def delete_unverified(self, id_: uuid.UUID) -> bool:
        result = await self.session.execute(
            delete(Credential).where(Credential.id == id_, Credential.email_verified.is_(False))
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
