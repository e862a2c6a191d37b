"""MFA repositories: the TOTP secret (pending until confirmed) and single-use recovery codes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert

from storage.auth.models import RecoveryCode, TotpSecret
from storage.repository import Repository


class TotpSecretRepository(Repository[TotpSecret]):
    model = TotpSecret

    async def put_pending(self, user_id: uuid.UUID, secret: str, idempotency_key: str) -> bool:
        """Store a pending secret under ``idempotency_key``; True if this call wrote it.

        A repeat with the same key keeps the first secret (a retried activity returns what the
        first attempt stored); a secret under another key (left by an abandoned setup) is
        replaced. Call only while MFA is off, holding the credential's row lock.
        """
        values = insert(TotpSecret).values(
            user_id=user_id, secret=secret, idempotency_key=idempotency_key
        )
        statement = values.on_conflict_do_update(
            index_elements=[TotpSecret.user_id],
            set_={
                "secret": values.excluded.secret,
                "idempotency_key": values.excluded.idempotency_key,
                "confirmed_at": None,
                "last_used_step": None,
                "created_at": func.now(),
            },
            where=TotpSecret.idempotency_key != idempotency_key,
        ).returning(TotpSecret.user_id)
        return await self.session.scalar(statement) is not None

    async def get_fresh(self, user_id: uuid.UUID, *, lock: bool = False) -> TotpSecret | None:
        """The row as the database has it now (never a stale identity-map copy)."""
        return await self.session.get(
            TotpSecret, user_id, populate_existing=True, with_for_update=lock
        )

    async def confirm(self, user_id: uuid.UUID, idempotency_key: str, step: int) -> None:
        """Activate the secret; the activation code's step counts as used (replay protection)."""
        await self.session.execute(
            update(TotpSecret)
            .where(TotpSecret.user_id == user_id)
            .values(confirmed_at=func.now(), idempotency_key=idempotency_key, last_used_step=step)
        )

    async def consume_step(self, user_id: uuid.UUID, step: int) -> bool:
        """Mark ``step`` used if it is newer than every step used before; one atomic UPDATE, so
        two requests racing with the same code cannot both win."""
        result = await self.session.execute(
            update(TotpSecret)
            .where(
                TotpSecret.user_id == user_id,
                TotpSecret.confirmed_at.is_not(None),
                or_(TotpSecret.last_used_step.is_(None), TotpSecret.last_used_step < step),
            )
            .values(last_used_step=step)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete_pending(self, user_id: uuid.UUID, idempotency_key: str) -> bool:
        """Remove an unconfirmed secret, only the one written under ``idempotency_key``."""
        result = await self.session.execute(
            delete(TotpSecret).where(
                TotpSecret.user_id == user_id,
                TotpSecret.confirmed_at.is_(None),
                TotpSecret.idempotency_key == idempotency_key,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete(self, user_id: uuid.UUID) -> bool:
        result = await self.session.execute(delete(TotpSecret).where(TotpSecret.user_id == user_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]


class RecoveryCodeRepository(Repository[RecoveryCode]):
    model = RecoveryCode

    async def replace(self, user_id: uuid.UUID, code_hashes: Sequence[str]) -> None:
        """The user's codes become exactly these (earlier ones, used or not, are gone)."""
        await self.delete_all(user_id)
        self.session.add_all(RecoveryCode(user_id=user_id, code_hash=h) for h in code_hashes)
        await self.session.flush()

    async def consume(self, user_id: uuid.UUID, code_hash: str) -> bool:
        """Spend an unused code; atomic, so a code works once even under concurrent requests."""
        spent = await self.session.scalar(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == code_hash,
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=func.now())
            .returning(RecoveryCode.id)
        )
        return spent is not None

    async def remaining(self, user_id: uuid.UUID) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        )
        return int(count or 0)

    async def delete_all(self, user_id: uuid.UUID) -> int:
        result = await self.session.execute(
            delete(RecoveryCode).where(RecoveryCode.user_id == user_id)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
