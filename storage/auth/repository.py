"""Credential repository: idempotent creation keyed by the workflow step."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.auth.models import Credential, OneTimeToken
from storage.repository import Repository


@dataclass(frozen=True)
class CreateOutcome:
    created: bool
    conflict: bool


@dataclass(frozen=True)
class LoginCredential:
    """What a password login reads of a credential (no ORM object: the login path is hot)."""

    id: uuid.UUID
    password_hash: str | None
    email_verified: bool
    mfa_enabled: bool
    #: The account is deactivated (``Credential.disabled_at`` set).
    disabled: bool = False


_LOGIN_LOOKUP = select(
    Credential.id,
    Credential.password_hash,
    Credential.email_verified,
    Credential.mfa_enabled,
    Credential.disabled_at.is_not(None),
).where(Credential.email == bindparam("email"))


async def login_credential(conn: AsyncConnection, email: str) -> LoginCredential | None:
    """The credential registered under ``email`` (already normalised): one statement."""
    row = (await conn.execute(_LOGIN_LOOKUP, {"email": email})).first()
    return LoginCredential(*row) if row is not None else None


class CredentialRepository(Repository[Credential]):
    model = Credential

    async def create(
        self, *, id_: uuid.UUID, email: str, password_hash: str | None, idempotency_key: str
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

    async def set_password_hash(
        self, id_: uuid.UUID, password_hash: str, *, changed: bool = True
    ) -> None:
        """Store a new hash; ``changed=False`` for a transparent rehash of the same password."""
        values: dict[str, object] = {"password_hash": password_hash}
        if changed:
            values["password_changed_at"] = func.now()
        await self.session.execute(update(Credential).where(Credential.id == id_).values(**values))

    async def mark_email_verified(self, id_: uuid.UUID) -> bool:
        result = await self.session.execute(
            update(Credential)
            .where(Credential.id == id_, Credential.email_verified.is_(False))
            .values(email_verified=True)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def set_mfa_enabled(self, id_: uuid.UUID, enabled: bool) -> None:
        await self.session.execute(
            update(Credential).where(Credential.id == id_).values(mfa_enabled=enabled)
        )

    async def set_disabled(self, id_: uuid.UUID, disabled: bool) -> bool | None:
        """Deactivate (``disabled_at`` now) or reactivate the account; True when it changed,
        False when it was so already, None when there is no such account."""
        current = await self.session.scalar(
            select(Credential.disabled_at.is_not(None))
            .where(Credential.id == id_)
            .with_for_update()
        )
        if current is None:
            return None
        if bool(current) == disabled:
            return False
        await self.session.execute(
            update(Credential)
            .where(Credential.id == id_)
            .values(disabled_at=func.now() if disabled else None)
        )
        return True

    async def exists_with_email(self, email: str) -> bool:
        return bool(await self.session.scalar(select(exists().where(Credential.email == email))))

    async def idempotency_key(self, id_: uuid.UUID) -> str | None:
        """The key of the step that created the account (None: no such account)."""
        return await self.session.scalar(
            select(Credential.idempotency_key).where(Credential.id == id_)
        )

    async def address_of_token_owner(
        self, token_hash: str, purpose: str, key_prefix: str
    ) -> str | None:
        """The e-mail address of the account owning a one-time token issued under a key that
        starts with ``key_prefix`` (one workflow run's steps)."""
        return await self.session.scalar(
            select(Credential.email)
            .join(OneTimeToken, OneTimeToken.user_id == Credential.id)
            .where(
                OneTimeToken.token_hash == token_hash,
                OneTimeToken.purpose == purpose,
                OneTimeToken.idempotency_key.startswith(key_prefix, autoescape=True),
            )
        )
