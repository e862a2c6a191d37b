"""SSO identities (keyed on issuer + subject) and the password-less accounts SSO creates."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, exists, select, text
from sqlalchemy.dialects.postgresql import insert

from storage.auth.models import AuditEvent, Credential, SsoIdentity
from storage.repository import Repository

#: Audit event that also records which workflow step opened an SSO session (see
#: ``opened_session``): a retried step finds the session its first attempt opened.
SESSION_OPENED = "sso.session_opened"


class SsoIdentityRepository(Repository[SsoIdentity]):
    model = SsoIdentity

    async def lock(self, issuer: str, subject: str) -> None:
        """Serialize sign-ins of one identity until the transaction ends, so two concurrent
        first sign-ins cannot both create an account."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"sso:{issuer}\n{subject}"},
        )

    async def find(self, issuer: str, subject: str) -> SsoIdentity | None:
        return await self.session.scalar(
            select(SsoIdentity).where(SsoIdentity.issuer == issuer, SsoIdentity.subject == subject)
        )

    async def link(
        self, *, issuer: str, subject: str, user_id: uuid.UUID, email: str | None
    ) -> None:
        self.session.add(SsoIdentity(issuer=issuer, subject=subject, user_id=user_id, email=email))
        await self.session.flush()

    async def create_account(
        self, *, user_id: uuid.UUID, email: str, email_verified: bool, idempotency_key: str
    ) -> bool:
        """A credential without a password; False when the e-mail (or id) is already taken."""
        inserted = await self.session.scalar(
            insert(Credential)
            .values(
                id=user_id,
                email=email,
                password_hash=None,
                email_verified=email_verified,
                idempotency_key=idempotency_key,
            )
            .on_conflict_do_nothing()
            .returning(Credential.id)
        )
        return inserted is not None

    async def delete_account(self, user_id: uuid.UUID, idempotency_key: str) -> bool:
        """Remove an SSO-created account (its identities and sessions cascade); only the one
        created with ``idempotency_key``, and never one that has a password since."""
        result = await self.session.execute(
            delete(Credential).where(
                Credential.id == user_id,
                Credential.idempotency_key == idempotency_key,
                Credential.password_hash.is_(None),
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def opened_session(self, user_id: uuid.UUID, idempotency_key: str) -> uuid.UUID | None:
        """The session an earlier attempt of the step ``idempotency_key`` opened, if any."""
        return await self.session.scalar(
            select(AuditEvent.session_id)
            .where(
                AuditEvent.user_id == user_id,
                AuditEvent.event == SESSION_OPENED,
                AuditEvent.detail["idempotency_key"].astext == idempotency_key,
            )
            .order_by(AuditEvent.at.desc())
            .limit(1)
        )

    async def unlink_all(self, user_id: uuid.UUID) -> int:
        """Remove every identity linked to the account; returns how many there were."""
        result = await self.session.execute(
            delete(SsoIdentity).where(SsoIdentity.user_id == user_id)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def has_identity(self, user_id: uuid.UUID) -> bool:
        """Whether the account signs in with SSO at all."""
        return bool(
            await self.session.scalar(select(exists().where(SsoIdentity.user_id == user_id)))
        )
